"""Memory per point from llama.cpp's load log: the model, KV cache and compute buffers per buffer type.

llama.cpp logs each buffer it allocates, named by its buffer type (CPU, CPU_Mapped, CPU_REPACK, AMX,
CUDA0, CUDA_Host, Vulkan0, Metal, ...):

    load_tensors:   CPU_Mapped model buffer size =   210.02 MiB
    llama_kv_cache:        CPU KV buffer size =     4.00 MiB       (one per cache: SWA models log two)
    llama_context:        CPU  output buffer size =     0.77 MiB
    sched_reserve:        CPU compute buffer size =   300.10 MiB   (again on each re-reservation)

and on Apple Silicon the Metal working set after each allocation (ggml-metal-device.m):

    ggml_metal_log_allocated_size: allocated buffer, size =   512.00 MiB, (  530.50 / 10922.67)

The in-process backend reads these lines from its log callback (models/llama_log.py), the managed
server from its log file; both turn them into the same columns here.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

BUFFER = re.compile(r"(\S+)\s+(model|KV|RS|output|compute) buffer size\s*=\s*([0-9.]+) MiB")
METAL = re.compile(r"allocated buffer, size =\s*[0-9.]+ MiB, \(\s*([0-9.]+) /\s*([0-9.]+)\)")
KEEP = ("buffer size =", "allocated buffer, size", "buffer type overridden")  # lines worth keeping
KINDS = {"model": "model", "KV": "kv", "RS": "kv", "output": "output", "compute": "compute"}
HOST_BUFTS = ("CPU", "AMX")  # buffer types in host memory (with any *_Host): CPU, CPU_Mapped, CPU_REPACK, AMX
SUMMED = ("model", "kv")  # one line per buffer (the model's, each cache's); the others: the last one counts


def kept(line: str) -> bool:
    """Whether a log line is one this module (or an override check) reads."""
    return any(k in line for k in KEEP)


@dataclass
class Memory:
    """MiB by buffer type and kind (model, kv, output, compute); metal_mb: the Metal working set last logged."""
    by_buft: dict[str, dict[str, float]] = field(default_factory=dict)
    metal_mb: float | None = None

    def total(self, *kinds: str) -> float | None:
        vals = [mib for kv in self.by_buft.values() for k, mib in kv.items() if k in kinds]
        return round(sum(vals), 2) if vals else None

    def breakdown(self) -> str:
        """e.g. "AMX:model=119.57;CPU:kv=8.00,output=0.77,compute=300.10;CPU_Mapped:model=210.02"."""
        return ";".join(f"{buft}:" + ",".join(f"{k}={mib:.2f}" for k, mib in kinds.items())
                        for buft, kinds in sorted(self.by_buft.items()))

    def on_devices(self, kind: str) -> dict[str, float]:
        """MiB of one kind per device: the GPU buffer types (Vulkan0, CUDA1, MTL0) by name, every host
        buffer type (CPU, CPU_Mapped, CPU_REPACK, AMX, the pinned Vulkan_Host / CUDA_Host) as "host"."""
        out: dict[str, float] = {}
        for buft, kinds in self.by_buft.items():
            if kind in kinds:
                dev = "host" if buft.startswith(HOST_BUFTS) or buft.endswith("_Host") else buft
                out[dev] = round(out.get(dev, 0.0) + kinds[kind], 2)
        return out

    def columns(self) -> dict[str, Any]:
        """The mem_* columns (empty where llama.cpp logged nothing: a server we did not start)."""
        cols: dict[str, Any] = {"mem_model_mb": self.total("model"), "mem_kv_mb": self.total("kv"),
                                "mem_compute_mb": self.total("compute", "output"), "mem_by_buft": self.breakdown()}
        if self.metal_mb is not None:
            cols["gpu_mem_used_mb"] = self.metal_mb
        return {k: v for k, v in cols.items() if v not in (None, "")}


def parse(lines: Iterable[str]) -> Memory:
    """The buffers of one model load and one context, from their log lines in order."""
    mem = Memory()
    for line in lines:
        m = BUFFER.search(line)
        if m:
            buft, kind, mib = m.group(1), KINDS[m.group(2)], float(m.group(3))
            kinds = mem.by_buft.setdefault(buft, {})
            kinds[kind] = round(kinds.get(kind, 0.0) + mib, 2) if kind in SUMMED else mib
            continue
        m = METAL.search(line)
        if m:
            mem.metal_mb = float(m.group(1))
    return mem


def from_breakdown(text: str) -> Memory:
    """The Memory a mem_by_buft cell was written from ("CPU:kv=4.75;Vulkan0:model=198.04,compute=76.50")."""
    mem = Memory()
    for part in filter(None, text.split(";")):
        buft, _, kinds = part.partition(":")
        mem.by_buft[buft] = {k: float(v) for k, _, v in (kv.partition("=") for kv in kinds.split(",")) if v}
    return mem
