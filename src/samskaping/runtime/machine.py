"""The machine side of running a model: threads, CPU facts and FLOP accounting (torch is imported when used)."""

from __future__ import annotations

import logging
import os
import platform
import statistics
import time
from pathlib import Path

from samskaping.errors import SamskapingError

log = logging.getLogger(__name__)

_INTEROP_SET = False


def physical_cores() -> int:
    """Physical cores this process may run on (hyper-thread siblings counted once).

    Reads the CPU topology under ``/sys``; where that is missing, falls back to
    the number of CPUs in the affinity mask.
    """
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return max(1, (os.cpu_count() or 2) // 2)
    cores = set()
    for cpu in allowed:
        siblings = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list")
        try:
            cores.add(siblings.read_text().strip())
        except OSError:
            return len(allowed)
    return max(1, len(cores))


ONEDNN_CACHE_CAPACITY = 16  # kernels oneDNN keeps (see tune_threads)


def tune_threads(threads: int | None = None) -> dict[str, int]:
    """Use one intra-op thread per physical core; set inter-op threads once; bound oneDNN's kernel cache.

    Hyper-threads share a core's vector units, so GEMM-bound inference gains
    nothing from them and loses to contention. ``torch.set_num_interop_threads``
    may only be called once per process and before any inter-op work starts;
    later calls keep whatever is set, so calling this twice is safe.

    Args:
        threads: intra-op threads to use (default: :func:`physical_cores`).

    Returns:
        The intra-op and inter-op thread counts now in effect.
    """
    global _INTEROP_SET
    import torch

    # oneDNN keeps a compiled kernel (with its packed weights) per matrix shape, up to 1,024 of them; bf16
    # prediction over a plan meets a new shape with almost every batch width, so an unbounded cache grows by
    # hundreds of MB over a plan with no gain in speed (benchmarks/benchmark.py, plan child; docs/performance.md).
    # oneDNN reads the setting when it makes its first kernel; a user's own setting is kept.
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(ONEDNN_CACHE_CAPACITY))
    n = int(threads or physical_cores())
    if n < 1:
        raise SamskapingError(f"threads must be at least 1, got {n}")
    torch.set_num_threads(n)
    if not _INTEROP_SET:
        try:
            # inference runs one graph at a time: inter-op parallelism only competes with intra-op threads
            torch.set_num_interop_threads(1)
        except RuntimeError as exc:  # already started or set elsewhere; keep it
            log.debug("inter-op threads left at %d (%s)", torch.get_num_interop_threads(), exc)
        _INTEROP_SET = True
    return {"intra_op": torch.get_num_threads(), "inter_op": torch.get_num_interop_threads()}


def encoder_flops(tokens: int, layers: int, hidden: int, intermediate: int) -> float:
    """Forward FLOPs of a BERT-style encoder on one sequence of ``tokens`` tokens.

    Per layer: ``2·T·(4·h² + 2·h·ff)`` for the Q, K, V, output and two
    feed-forward projections, plus ``4·T²·h`` for the attention scores and the
    weighted sum. Embeddings, layer norms, softmax and GELU are left out
    (they are not matrix products), so this is a lower bound of the work.
    """
    t, h, ff = float(tokens), float(hidden), float(intermediate)
    return layers * (2.0 * t * (4.0 * h * h + 2.0 * h * ff) + 4.0 * t * t * h)


def matmul_gflops(n: int = 2048, repeats: int = 10) -> dict[str, float]:
    """Measured fp32 ``torch.matmul`` throughput of ``n×n`` matrices (median of ``repeats``).

    This is the practical ceiling for GEMM-bound work with the current thread
    settings: the encoder's projections are the same kind of product.
    """
    import torch

    generator = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=generator)
    b = torch.randn(n, n, generator=generator)
    out = torch.empty(n, n)
    torch.matmul(a, b, out=out)  # warm-up: thread pool, packing buffers
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        torch.matmul(a, b, out=out)
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    return {
        "n": n,
        "repeats": repeats,
        "median_seconds": median,
        "gflops": 2.0 * n**3 / median / 1e9,
        "best_gflops": 2.0 * n**3 / min(times) / 1e9,
    }


# ---------------------------------------------------------------------------
# CPU facts, recorded with each measurement
# ---------------------------------------------------------------------------


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags() -> set[str]:
    """The CPU's feature flags as /proc/cpuinfo lists them (empty where there is no /proc/cpuinfo)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    return set(next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), []))


def _cpu_int8_flags() -> list[str]:
    """The CPU's int8 dot-product features (VNNI, AMX): without them 8-bit weights can saturate."""
    return sorted(cpu_flags() & {"avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8"})
