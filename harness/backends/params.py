"""Rules every backend applies to the same config keys, so in-process and server agree."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

import psutil

from harness.config.values import parse_overrides, parse_tensor_split

if TYPE_CHECKING:
    from harness.config.schema import BackendConfig


def physical_cores() -> int:
    """n_threads=0 means this many threads."""
    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


def load_mode(cfg: BackendConfig) -> str:
    """The effective load mode: backend.load_mode, else from backend.use_mmap (cfg: the backend config)."""
    mode: str = cfg.load_mode or ("mmap" if cfg.use_mmap else "none")
    return mode


# llama.cpp's common/common.h: LLM_FFN_EXPS_REGEX and llm_ffn_block_regex (what -ncmoe N adds, once per layer)
FFN_EXPS_REGEX = r"\.ffn_(up|down|gate|gate_up)_(ch|)exps"
CPU_BUFT = "CPU"  # the host's buffer type (ggml_backend_cpu_buffer_type)


def cpu_moe_overrides(n_cpu_moe: int) -> list[tuple[str, str]]:
    """The (pattern, buffer type) overrides of -ncmoe N: the experts of layers 0..N-1 on the CPU."""
    return [(rf"blk\.{i}{FFN_EXPS_REGEX}", CPU_BUFT) for i in range(n_cpu_moe)]


def check_devices(cfg: BackendConfig, bufts: list[str] | None, n_gpus: int, where: str) -> None:
    """Refuse, in one line, what this build cannot honour: a buffer type it does not have (exps=CUDA0 on
    a CPU build), a main_gpu or a tensor_split beyond its GPUs. bufts: the buffer types of its devices
    (CPU, CUDA0, Vulkan0, Metal...; None: not checked here), n_gpus: its GPU devices, where: the build."""
    for _, buft in parse_overrides(cfg.tensor_buft_overrides):
        if bufts is not None and buft not in bufts:
            raise ValueError(f"backend.tensor_buft_overrides={cfg.tensor_buft_overrides}: no buffer type {buft!r} "
                             f"in {where}; it has: {', '.join(bufts) or 'none'}")
    if cfg.main_gpu and cfg.main_gpu >= n_gpus:
        raise ValueError(f"backend.main_gpu={cfg.main_gpu}: {where} has {n_gpus} GPU device(s); "
                         + (f"main_gpu must be < {n_gpus}" if n_gpus else "leave main_gpu at 0"))
    split = parse_tensor_split(cfg.tensor_split)
    if len(split) > max(n_gpus, 1):
        raise ValueError(f"backend.tensor_split={cfg.tensor_split} names {len(split)} devices: {where} has "
                         f"{n_gpus} GPU device(s)")
