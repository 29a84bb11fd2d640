"""Before a point loads its model: will the weights and the KV cache fit the free memory?

The estimate reads the GGUF (tensor sizes, layer and head dimensions, sliding window) and the
point's n_ctx and KV types; the compute buffers are not counted. Where the weights go follows the
point's offload settings: on a CUDA build with NVML (nvidia-ml-py) the tensors that -ot/-ncmoe keep
on the CPU, and the KV cache with no_kv_offload, count against host memory and the rest against the
GPUs' free memory; on a CPU or Metal build (unified memory) everything counts against host memory;
on another GPU build (Vulkan...) only what stays on the host is checked. Host memory is
/proc/meminfo's MemAvailable (psutil) plus what the kept in-process worker or llama-server holds
(the point reuses or replaces it). HARNESS_MEM_AVAILABLE_MB replaces MemAvailable (a test, or a
stricter limit); backend.fit_check=false turns the check off.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psutil

from harness.backends import nvml
from harness.backends.params import cpu_moe_overrides
from harness.config.values import parse_overrides
from harness.metrics.roofline import GGUFHeader, model_bytes, tensor_bytes, type_bytes

MIB = 1024 * 1024
AVAILABLE_ENV = "HARNESS_MEM_AVAILABLE_MB"


class FitError(ValueError):
    """The point's weights + KV cache exceed the free memory (one line, with the remedy)."""


def host_available_mb(held_pids: Iterable[int] = ()) -> float:
    """MemAvailable (or $HARNESS_MEM_AVAILABLE_MB) plus the resident memory of held_pids."""
    given = os.environ.get(AVAILABLE_ENV)
    free = float(given) if given else psutil.virtual_memory().available / MIB
    for pid in held_pids:
        try:
            free += psutil.Process(pid).memory_info().rss / MIB
        except psutil.Error:
            pass
    return free


def need_mb(b: Any, path: Path, split_gpu: bool) -> tuple[float, float]:
    """(host MiB, GPU MiB) the weights and KV cache of this point take; split_gpu: the GPU takes
    what is not kept on the host (else everything counts as host)."""
    header = GGUFHeader(path)
    mb = model_bytes(str(path))
    if b.swa_full:  # every layer's cache full-size
        per_pos = mb.key_length * type_bytes(b.type_k) + mb.value_length * type_bytes(b.type_v)
        kv = sum(mb.kv_heads) * b.n_ctx * per_pos
    else:  # sliding-window layers keep their window
        kv = mb.kv(b.n_ctx, b.type_k, b.type_v)
    weights = path.stat().st_size  # the tensors, and the vocabulary llama.cpp also keeps in memory
    if not split_gpu or b.n_gpu_layers == 0:
        return (weights + kv) / MIB, 0.0
    pairs = parse_overrides(b.tensor_buft_overrides) + cpu_moe_overrides(b.n_cpu_moe)
    host_patterns = [re.compile(p) for p, buft in pairs if buft.upper().startswith("CPU")]
    on_host = sum(tensor_bytes(t) for t in header.tensors
                  if t.name.startswith("token_embd.") or any(p.search(t.name) for p in host_patterns))
    kv_host = kv if b.no_kv_offload else 0.0
    return (on_host + kv_host) / MIB, (weights - on_host + kv - kv_host) / MIB


def check(b: Any, path: Path, accel: str, held_pids: Iterable[int] = ()) -> None:
    """Raise FitError when the point cannot fit (b: the backend config, accel: the build's accelerator)."""
    gpus = nvml.memory_mb() if accel == "cuda" else None
    host, gpu = need_mb(b, path, split_gpu=accel not in ("cpu", "metal", ""))
    free = host_available_mb(held_pids)
    remedy = "lower backend.n_ctx, pick a smaller quant, or set backend.fit_check=false to load anyway"
    if host > free:
        raise FitError(f"{path.name} with n_ctx={b.n_ctx} needs about {host:.0f} MiB of host memory for weights + "
                       f"KV cache; {free:.0f} MiB is available: {remedy}")
    if gpus:
        gpu_free = gpus[b.main_gpu][1] if b.split_mode == "none" and b.main_gpu < len(gpus) else \
            sum(f for _, f in gpus)
        if gpu > gpu_free:
            raise FitError(f"{path.name} with n_ctx={b.n_ctx} needs about {gpu:.0f} MiB of GPU memory for weights + "
                           f"KV cache; {gpu_free:.0f} MiB is free (NVML): {remedy}, or keep experts on the CPU "
                           "(backend.n_cpu_moe)")
