"""The environment record: machine, accelerator, versions and commit, carried by every row."""
from __future__ import annotations

import functools
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

ACCELS = ("cuda", "metal", "vulkan")


def _run(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def cpu_model() -> str:
    if sys.platform == "darwin":
        return _run(["sysctl", "-n", "machdep.cpu.brand_string"]) or platform.processor()
    for line in _cpuinfo().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


# The CPU features that decide which llama.cpp kernels run, by the names rows carry; a trailing *
# keeps a family (amx_tile, amx_int8, amx_bf16...; avx512f, avx512bw, avx512_vnni, avx512_bf16...).
KERNEL_CPU_FLAGS = ("amx_*", "avx512*", "avx_vnni", "avx2", "avx", "fma", "f16c", "sse4_2",
                    "neon", "dotprod", "i8mm", "bf16", "sve", "sve2", "sme")
# Other spellings of them: ARM Linux's /proc/cpuinfo and macOS's `sysctl hw.optional` (after
# FEAT_ is dropped: hw.optional.arm.FEAT_DotProd -> dotprod; Intel Macs: hw.optional.avx2_0).
CPU_FLAG_ALIASES = {"asimd": "neon", "advsimd": "neon", "asimddp": "dotprod", "avx1_0": "avx", "avx2_0": "avx2"}


def _kernel_flag(raw: str) -> str | None:
    name = raw.lower().removeprefix("feat_")
    name = CPU_FLAG_ALIASES.get(name, name)
    keep = any(name.startswith(k[:-1]) if k.endswith("*") else name == k for k in KERNEL_CPU_FLAGS)
    return name if keep else None


def parse_cpu_flags(text: str) -> list[str]:
    """The KERNEL_CPU_FLAGS in /proc/cpuinfo text (x86 `flags`, ARM `Features`: the first such line)
    or in `sysctl hw.optional` output (`hw.optional.arm.FEAT_I8MM: 1`), sorted, no repeats."""
    raw: list[str] = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not sep:
            continue
        if key.startswith("hw.optional."):
            if value == "1":
                raw.append(key.rsplit(".", 1)[1])
        elif key in ("flags", "Features") and not raw:
            raw = value.split()
    return sorted({f for f in map(_kernel_flag, raw) if f})


def cpu_features() -> str:
    """This machine's KERNEL_CPU_FLAGS, sorted and comma-separated ('' where it cannot tell)."""
    text = _run(["sysctl", "hw.optional"]) if sys.platform == "darwin" else _cpuinfo()
    return ",".join(parse_cpu_flags(text))


def gpu_model() -> str:
    out = _run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"])
    if out:
        return "; ".join(ln.strip() for ln in out.splitlines())
    if sys.platform == "darwin" and platform.machine() == "arm64":
        return cpu_model()  # Apple Silicon: the GPU is part of the SoC
    from harness.backends.devices import gpus
    return ", ".join(d.description for d in gpus())  # as llama-bench's gpu_info: the devices llama.cpp sees


def compute_backends(system_info: str) -> list[str]:
    """Backend names from llama.cpp's system info ('CUDA : ... | CPU : ...')."""
    return [seg.split(" : ")[0].strip() for seg in system_info.split("|") if " : " in seg]


def accel_of(backends: Iterable[str]) -> str:
    """cuda, metal, vulkan or cpu from llama.cpp backend names ('CUDA', 'MTL', 'Metal,BLAS', 'CPU')."""
    seen = " ".join(backends).lower()
    for name in ACCELS:
        if name in seen or (name == "metal" and "mtl" in seen):
            return name
    return "cpu"


def accelerator(system_info: str) -> str:
    return accel_of(compute_backends(system_info))


def device(accel: str) -> tuple[str, int | None]:
    """(name, memory in MiB) of the device llama.cpp computes on; memory None when unknown.
    A GPU build: its first GPU as llama.cpp sees it (a Vulkan build without a visible Vulkan
    device computes on the CPU and says so). CPU and Apple Silicon (unified memory): the CPU model
    and the RAM total."""
    ram = round(psutil.virtual_memory().total / 2**20)
    if accel in ("cuda", "vulkan"):
        from harness.backends.devices import gpus
        gpu = next(iter(gpus()), None)
        if gpu is not None:
            return f"{gpu.name}: {gpu.description}", gpu.total_mb or None
    return cpu_model(), ram


def git_commit() -> str:
    """The checkout's commit when the harness runs from one (an installed wheel: unknown, never the
    commit of a repository the venv happens to sit in)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists() or not (root / "pyproject.toml").is_file():
        return "unknown"
    sha = _run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"])
    if not sha:
        return "unknown"
    dirty = _run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"])
    return sha + ("+dirty" if dirty else "")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return ""


@functools.cache
def environment() -> dict[str, Any]:
    """The full record (env.json); row_columns() picks what every row carries."""
    from harness.backends.build_id import in_process as in_process_build
    from harness.backends.inprocess import system_info
    info = system_info()
    vm = psutil.virtual_memory()
    from harness.backends.devices import backend_names
    backends = backend_names() or compute_backends(info)  # the system info leaves out backends without features
    accel = accel_of(backends)
    dev_name, dev_mem = device(accel)
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),  # the process that ran the shard (joblib runs jobs in several)
        "os": f"{platform.system()} {platform.release()}",
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_info": cpu_model(),
        "cpu_features": cpu_features(),
        "cpu_cores_physical": psutil.cpu_count(logical=False),
        "cpu_cores_logical": psutil.cpu_count(),
        "mem_total_mb": round(vm.total / 2**20),
        "gpu_info": gpu_model(),
        "accel": accel,
        "device": dev_name,
        "device_mem_mb": dev_mem if dev_mem is not None else "",
        "accel_requested": os.environ.get("HARNESS_ACCEL", ""),
        "backends": ",".join(backends),
        "system_info": info,
        "python": platform.python_version(),
        "llama_cpp_python": _version("llama-cpp-python"),
        **in_process_build().columns(),
        "versions": {d: _version(d) for d in ("hydra-core", "gguf", "openai-harmony", "numpy", "pandas")},
        "harness_version": _version("gpt-oss-harness"),
        "harness_commit": git_commit(),
    }


ROW_KEYS = ("host", "os", "cpu_info", "cpu_features", "gpu_info", "device", "device_mem_mb", "accel", "backends",
            "system_info", "llama_cpp_python", "build_commit", "build_number", "harness_version", "harness_commit")


def row_columns() -> dict[str, Any]:
    env = environment()
    return {k: env[k] for k in ROW_KEYS}
