"""Buffer types of the loaded llama.cpp build (what -ot names: CPU, CUDA0, Vulkan0, Metal...) and the
tensor-override array llama_model_params takes.

llama-cpp-python declares llama_model_params.tensor_buft_overrides as an opaque pointer; the array
of {const char *pattern; ggml_backend_buffer_type_t buft}, NULL-terminated, is built here, with the
buffer types llama.cpp's own -ot parser uses (each device's ggml_backend_dev_buffer_type). llama.cpp
reads the array while the model loads and keeps no copy: the caller keeps the Overrides object (the
array and its strings) alive as long as the model.
"""
from __future__ import annotations

import ctypes

from harness.backends.devices import ggml


class BuftOverride(ctypes.Structure):
    _fields_ = [("pattern", ctypes.c_char_p), ("buft", ctypes.c_void_p)]


def buffer_types() -> dict[str, int]:
    """Buffer type name -> ggml_backend_buffer_type_t of every device's buffer type (llama.cpp's -ot list)."""
    g = ggml()
    out: dict[str, int] = {}
    for i in range(g.ggml_backend_dev_count()):
        buft = g.ggml_backend_dev_buffer_type(g.ggml_backend_dev_get(i))
        if buft:
            out[g.ggml_backend_buft_name(buft).decode()] = int(buft)
    return out


class Overrides:
    """The NULL-terminated llama_model_tensor_buft_override array for (pattern, buffer type name) pairs
    (names from buffer_types()); .pointer goes into llama_model_params. Keep it while the model lives."""

    def __init__(self, pairs: list[tuple[str, str]], bufts: dict[str, int]) -> None:
        self.patterns = [p.encode() for p, _ in pairs]
        self.array = (BuftOverride * (len(pairs) + 1))()  # zeroed: the last entry is the terminator
        for i, (pattern, (_, name)) in enumerate(zip(self.patterns, pairs)):
            self.array[i].pattern, self.array[i].buft = pattern, bufts[name]

    @property
    def pointer(self) -> int | None:
        return ctypes.cast(self.array, ctypes.c_void_p).value if self.patterns else None
