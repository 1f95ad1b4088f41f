"""What reading each file in a worker process costs (issue 22): isolated vs in-process reading time.

    python benchmarks/isolation.py                 # the sample plans, then a 100-plan folder
    python benchmarks/isolation.py --plans 20 --rounds 1

Two folders are read: ``data/sample-plans`` as shipped, and a folder of
``--plans`` plans made in a temporary folder from the sample PDF (copied) and the
sample plan text (each copy varied by one sentence, saved as .txt and, with
python-docx, as .docx), in thirds. Each measurement runs in a fresh Python
process that reads every file of the folder the way ``predict.py`` does
(:class:`samskaping.reading.IsolatedReader`), once with ``isolated=True``
(the worker's start-up counted) and once with ``isolated=False`` (the readers'
first imports counted); rounds alternate the two, and the medians are printed.
The model is not involved: isolation changes reading only. In both modes torch
is kept out (the worker does that; in-process, thinc would import it through spaCy
and add about 2 s of its own), so the difference is the process boundary alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_PDF = ROOT / "data" / "sample-plans" / "eksempelkommune-samfunnsdel.pdf"
SAMPLE_TEXT = ROOT / "data" / "sample-plan-text" / "eksempelkommune-samfunnsdel.txt"

_READ_ALL = """
import sys, time
from pathlib import Path
from samskaping.documents.limits import ReadingLimits
from samskaping.reading import IsolatedReader

if __name__ == "__main__":
    if sys.argv[2] != "isolated":  # as in the worker: spaCy's blank pipeline never needs torch (see the module doc)
        sys.modules["torch"] = None
    files = sorted(p for p in Path(sys.argv[1]).iterdir() if p.suffix in (".pdf", ".txt", ".docx"))
    started = time.perf_counter()
    with IsolatedReader(ReadingLimits(isolated=sys.argv[2] == "isolated")) as reader:
        outcomes = [reader.read(path) for path in files]
    seconds = time.perf_counter() - started
    assert all(o.error is None for o in outcomes), [o.error for o in outcomes if o.error]
    print(seconds, sum(len(o.frame) for o in outcomes))
"""


def make_folder(folder: Path, plans: int) -> Path:
    """``plans`` plans: a third PDF copies, a third varied .txt, a third varied .docx."""
    import docx

    folder.mkdir(parents=True, exist_ok=True)
    text = SAMPLE_TEXT.read_text(encoding="utf-8")
    for i in range(plans):
        varied = text + f"\n\nKommune nummer {i} vil samarbeide med innbyggerne om plan nummer {i}.\n"
        if i % 3 == 0:
            shutil.copyfile(SAMPLE_PDF, folder / f"plan-{i:03d}.pdf")
        elif i % 3 == 1:
            (folder / f"plan-{i:03d}.txt").write_text(varied, encoding="utf-8")
        else:
            document = docx.Document()
            for paragraph in varied.split("\n\n"):
                if paragraph.strip():
                    document.add_paragraph(paragraph.strip())
            document.save(str(folder / f"plan-{i:03d}.docx"))
    return folder


def read_seconds(script: Path, folder: Path, mode: str) -> tuple[float, int]:
    """Seconds to read every file of ``folder`` in a fresh process, and the sentences read."""
    done = subprocess.run([sys.executable, str(script), str(folder), mode], capture_output=True, text=True, check=True)
    seconds, sentences = done.stdout.split()
    return float(seconds), int(sentences)


def measure(script: Path, folder: Path, rounds: int) -> dict[str, object]:
    times: dict[str, list[float]] = {"isolated": [], "in_process": []}
    sentences = 0
    for _ in range(rounds):
        for mode in times:
            seconds, sentences = read_seconds(script, folder, mode)
            times[mode].append(seconds)
    isolated, in_process = statistics.median(times["isolated"]), statistics.median(times["in_process"])
    files = sum(1 for p in folder.iterdir() if p.suffix in (".pdf", ".txt", ".docx"))
    return {
        "files": files,
        "sentences": sentences,
        "isolated_s": round(isolated, 2),
        "in_process_s": round(in_process, 2),
        "cost_s": round(isolated - in_process, 2),
        "cost_percent": round(100 * (isolated / in_process - 1), 1),
        "rounds": {k: [round(v, 2) for v in vs] for k, vs in times.items()},
    }


def cpu_name() -> str:
    """The CPU's model name as lscpu shows it (Linux), else the machine type."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=100, help="plans in the generated folder (default 100)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of both modes (default 3)")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="samskaping-isolation-") as tmp:
        script = Path(tmp) / "read_all.py"
        script.write_text(_READ_ALL, encoding="utf-8")
        results = {
            "cpu": cpu_name(),
            "cores": os.cpu_count(),
            "load_average": os.getloadavg()[0],
            "python": platform.python_version(),
            "sample_plans": measure(script, SAMPLE_PDF.parent, args.rounds),
            f"{args.plans}_plans": measure(script, make_folder(Path(tmp) / "plans", args.plans), args.rounds),
        }
    for name in ("sample_plans", f"{args.plans}_plans"):
        r = results[name]
        print(
            f"{name:>12}: {r['files']} files, {r['sentences']} sentences; isolated {r['isolated_s']} s, "
            f"in-process {r['in_process_s']} s; cost {r['cost_s']:+} s ({r['cost_percent']:+} %)"
        )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
