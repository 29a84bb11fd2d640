"""The offload and device axes as llama-server flags (llama-bench's -ncmoe -ot -nkvo -sm -mg -ts), and
the GPUs a llama-server binary sees. The in-process backend sets the same through llama_model_params
(backends/inprocess.py, backends/buft.py); params.py holds the rules both apply."""
from __future__ import annotations

import functools
import re
import subprocess
from typing import TYPE_CHECKING

from harness.config.values import parse_overrides, parse_tensor_split

if TYPE_CHECKING:
    from harness.config.schema import BackendConfig

Flag = tuple[str, "str | None", tuple[str, ...]]  # (axis, value or None for a bare flag, the flag's spellings)


def server_flags(cfg: BackendConfig) -> list[Flag]:
    """The flags for what differs from llama-server's defaults (no -ncmoe, no -ot, KV offloaded, layer
    split, GPU 0, its own split). Several overrides go in one -ot, comma-separated, as it parses them."""
    out: list[Flag] = []
    pairs = parse_overrides(cfg.tensor_buft_overrides)
    split = parse_tensor_split(cfg.tensor_split)
    if cfg.n_cpu_moe > 0:
        out.append(("n_cpu_moe", str(cfg.n_cpu_moe), ("-ncmoe", "--n-cpu-moe")))
    if pairs:
        out.append(("tensor_buft_overrides", ",".join(f"{p}={b}" for p, b in pairs), ("-ot", "--override-tensor")))
    if cfg.no_kv_offload:
        out.append(("no_kv_offload", None, ("-nkvo", "--no-kv-offload")))
    if cfg.split_mode != "layer":
        out.append(("split_mode", cfg.split_mode, ("-sm", "--split-mode")))
    if cfg.main_gpu:
        out.append(("main_gpu", str(cfg.main_gpu), ("-mg", "--main-gpu")))
    if split:
        out.append(("tensor_split", ",".join(f"{p:g}" for p in split), ("-ts", "--tensor-split")))
    return out


@functools.cache
def gpu_devices(binary: str) -> int:
    """The non-CPU devices `binary --list-devices` lists ("  CUDA0: NVIDIA ... (24576 MiB, 23000 MiB free)");
    0 where it lists none or cannot run."""
    try:
        out = subprocess.run([binary, "--list-devices"], capture_output=True, text=True, timeout=60,
                             stdin=subprocess.DEVNULL).stdout
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return len(re.findall(r"(?m)^\s+\S+: .*MiB free\)", out))
