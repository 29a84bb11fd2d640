"""NVIDIA device memory through NVML (the optional `nvidia-ml-py` package, `pip install harness[nvml]`).

Without the package, the NVIDIA driver or a GPU every function here answers "nothing known" (empty
columns, no fit check on the GPU), never an error.
"""
from __future__ import annotations

import functools
import importlib
from typing import Any

MIB = 1024 * 1024


@functools.cache
def _nvml() -> Any:
    """The initialised pynvml module, or None where NVML cannot be used here."""
    try:
        nv = importlib.import_module("pynvml")
    except ImportError:
        return None
    try:
        nv.nvmlInit()
        if nv.nvmlDeviceGetCount() == 0:
            return None
    except Exception:  # pynvml.NVMLError and its per-cause subclasses: no library, no driver, no device
        return None
    return nv


def memory_mb() -> list[tuple[float, float]] | None:
    """(used, free) MiB of each NVIDIA GPU, in NVML's order; None without NVML or a GPU."""
    nv = _nvml()
    if nv is None:
        return None
    try:
        infos = [nv.nvmlDeviceGetMemoryInfo(nv.nvmlDeviceGetHandleByIndex(i)) for i in range(nv.nvmlDeviceGetCount())]
    except Exception:  # a GPU that fell off the bus: as if unknown
        return None
    return [(round(m.used / MIB, 1), round(m.free / MIB, 1)) for m in infos]


def used_columns() -> dict[str, Any]:
    """gpu_mem_used_mb: device memory in use on all NVIDIA GPUs (every process's), MiB; {} when unknown."""
    mem = memory_mb()
    return {"gpu_mem_used_mb": round(sum(u for u, _ in mem), 1)} if mem else {}
