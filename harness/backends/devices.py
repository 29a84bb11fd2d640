"""The compute devices of the loaded llama.cpp, from ggml's device registry: the CPU, and the GPUs
of the build's accelerator backend (Metal, CUDA0, Vulkan0, ...) with their memory.

A Vulkan build shows CPU-type Vulkan devices (a software driver such as Mesa's lavapipe) only when
GGML_VK_VISIBLE_DEVICES names them; the variable is read once, when the library starts.
"""
from __future__ import annotations

import ctypes
import functools
from dataclasses import dataclass
from typing import Any

# enum ggml_backend_dev_type (ggml-backend.h)
KINDS = ("cpu", "gpu", "igpu", "accel", "meta")


@dataclass(frozen=True)
class Device:
    name: str          # ggml's device name: CPU, Vulkan0, CUDA0, MTL0
    description: str   # the driver's: llvmpipe (LLVM 15.0.6, 256 bits), NVIDIA GeForce RTX 4090, the CPU model
    kind: str          # cpu, gpu, igpu (integrated, shares host memory), accel
    free_mb: int
    total_mb: int

    @property
    def is_gpu(self) -> bool:
        return self.kind in ("gpu", "igpu")


# The ggml functions the harness calls through ctypes (name, result, arguments): declared once here.
_SIGNATURES: tuple[tuple[str, Any, list[Any]], ...] = (
    ("ggml_backend_reg_count", ctypes.c_size_t, []),
    ("ggml_backend_reg_get", ctypes.c_void_p, [ctypes.c_size_t]),
    ("ggml_backend_reg_name", ctypes.c_char_p, [ctypes.c_void_p]),
    ("ggml_backend_dev_count", ctypes.c_size_t, []),
    ("ggml_backend_dev_get", ctypes.c_void_p, [ctypes.c_size_t]),
    ("ggml_backend_dev_name", ctypes.c_char_p, [ctypes.c_void_p]),
    ("ggml_backend_dev_description", ctypes.c_char_p, [ctypes.c_void_p]),
    ("ggml_backend_dev_type", ctypes.c_int, [ctypes.c_void_p]),
    ("ggml_backend_dev_memory", None, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t),
                                       ctypes.POINTER(ctypes.c_size_t)]),
    ("ggml_backend_dev_buffer_type", ctypes.c_void_p, [ctypes.c_void_p]),
    ("ggml_backend_buft_name", ctypes.c_char_p, [ctypes.c_void_p]),
)


@functools.cache
def ggml() -> Any:
    """The loaded libggml with the signatures above set (loading libllama first registers the backends)."""
    import llama_cpp  # noqa: F401
    from llama_cpp._ggml import libggml
    for name, res, args in _SIGNATURES:
        fn = getattr(libggml, name)
        fn.restype, fn.argtypes = res, args
    return libggml


def backend_names() -> list[str]:
    """The compute backends built into the loaded llama.cpp (Vulkan, CUDA, Metal, ..., CPU), whether
    or not a device of theirs is visible: the build's accelerator."""
    lib = ggml()
    regs = (lib.ggml_backend_reg_get(i) for i in range(lib.ggml_backend_reg_count()))
    return [lib.ggml_backend_reg_name(reg).decode() for reg in regs]


def devices() -> list[Device]:
    """Every device the loaded llama.cpp can compute on, in its order (GPUs first, the CPU last)."""
    lib = ggml()
    out = []
    for i in range(lib.ggml_backend_dev_count()):
        dev = lib.ggml_backend_dev_get(i)
        free, total = ctypes.c_size_t(0), ctypes.c_size_t(0)
        lib.ggml_backend_dev_memory(dev, ctypes.byref(free), ctypes.byref(total))
        kind = lib.ggml_backend_dev_type(dev)
        out.append(Device(lib.ggml_backend_dev_name(dev).decode(), lib.ggml_backend_dev_description(dev).decode(),
                          KINDS[kind] if 0 <= kind < len(KINDS) else str(kind),
                          round(free.value / 2**20), round(total.value / 2**20)))
    return out


def gpus() -> list[Device]:
    return [d for d in devices() if d.is_gpu]
