"""Which step of a command sets its peak memory: resident memory sampled between its log lines.

    python benchmarks/memory_phases.py [--every 0.25] [--out phases.json] -- COMMAND [ARG ...]

    SAMSKAPING_CACHE=/tmp/fresh python benchmarks/memory_phases.py -- python predict.py data/sample-plans --output out/x

Runs COMMAND (its standard output passes through), reads the resident set size (``VmRSS`` of
``/proc/PID/status``, Linux only) of the process every ``--every`` seconds, and splits the run at the
lines the command writes to standard error (samskaping logs one line per step: the frozen-layer
cache, each epoch, calibration, the bf16 measurement). For each stretch it prints the seconds since
the start, the peak resident memory in GiB and the log line that closed the stretch, then the peak
and the wall time of the whole run. ``/usr/bin/time -v`` gives the same peak ("Maximum resident set
size"); this says when it happens. A sample every 0.25 s can miss a spike shorter than that, so the
peak printed here is a lower bound of ``/usr/bin/time``'s.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

GIB = 1024**3


def resident_bytes(pid: int) -> int | None:
    """VmRSS of ``pid`` in bytes, or None once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def run(command: list[str], every: float) -> dict:
    """Run ``command``; return its exit status, wall seconds, peak bytes and the peak of each stretch."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, errors="replace")
    lines: list[tuple[float, str]] = []

    def read() -> None:
        for line in process.stderr:  # type: ignore[union-attr]
            lines.append((time.perf_counter() - started, line.rstrip()))
            sys.stderr.write(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    samples: list[tuple[float, int]] = []
    while process.poll() is None:
        value = resident_bytes(process.pid)
        if value is not None:
            samples.append((time.perf_counter() - started, value))
        time.sleep(every)
    reader.join()
    bounds = [(0.0, "(start)"), *lines, (float("inf"), "(end)")]
    stretches = []
    for (start, _), (end, closing) in itertools.pairwise(bounds):
        inside = [value for t, value in samples if start <= t < end]
        if inside:
            stretches.append(
                {
                    "from_s": round(start, 1),
                    "to_s": round(min(end, samples[-1][0]), 1),
                    "peak_gib": round(max(inside) / GIB, 3),
                    "until": closing,
                }
            )
    return {
        "command": command,
        "returncode": process.returncode,
        "wall_s": round(time.perf_counter() - started, 1),
        "peak_gib": round(max((v for _, v in samples), default=0) / GIB, 3),
        "sample_every_s": every,
        "stretches": stretches,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=float, default=0.25, help="seconds between samples")
    parser.add_argument("--out", type=Path, help="also write the result as JSON")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    result = run(command, args.every)
    for stretch in result["stretches"]:
        print(
            f"{stretch['from_s']:7.1f}–{stretch['to_s']:.1f} s  {stretch['peak_gib']:5.2f} GiB  "
            f"until: {stretch['until'][:100]}"
        )
    print(f"peak {result['peak_gib']:.2f} GiB, {result['wall_s']:.0f} s wall, exit status {result['returncode']}")
    if args.out:
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    sys.exit(result["returncode"])


if __name__ == "__main__":
    main()
