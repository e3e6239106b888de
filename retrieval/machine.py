"""The one CPU probe: what machine a measurement ran on (evaluate, benchmarks) and whether the CPU
has native bf16 (the embedder's ``auto`` dtype); and how the native thread pools wait (``quiet_threads``)."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

CPUINFO = Path("/proc/cpuinfo")


def _cpuinfo() -> str:
    try:
        return CPUINFO.read_text()
    except OSError:
        return ""


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    for line in _cpuinfo().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def cpu_has_native_bf16() -> bool:
    """True where the CPU advertises bf16 matrix support (AVX512-BF16 or AMX-BF16)."""
    flags = _cpuinfo()
    return " avx512_bf16" in flags or " amx_bf16" in flags


def load_average() -> float | None:
    """The 1-minute load average, None where the OS has none."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def quiet_threads() -> None:
    """Worker threads that sleep, not spin, while they wait for work: OpenMP's passive wait policy, set
    before torch or llama.cpp load the OpenMP runtime (a value the user set is kept).

    OpenMP threads spin between parallel regions by default. On a machine where anything else runs (a
    Chroma server, an ingest, another session, the page's own threads) the spinning threads take the cores
    the working ones need: on the shared 2-core machine (load ≈ 17) encoding one question took 330-530 ms
    instead of 26-35 ms, and 60 sentences 3.5-4.9 s instead of 0.9-1.1 s (``docs/results.md``, session 17).
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def machine_summary() -> dict[str, Any]:
    """Enough to read the latencies: they depend on the CPU and on what else runs on it."""
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "load_average_1m": load_average()}
