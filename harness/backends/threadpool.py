"""A ggml CPU threadpool attached to a context, as llama-bench attaches one.

llama-cpp-python does not bind llama_attach_threadpool; without it ggml builds a throw-away
threadpool for every graph it computes (every generated token). These few ctypes bindings
(libggml-base, libggml-cpu, libllama from the llama_cpp package) make the in-process decode path
the one llama-bench measures.
"""
from __future__ import annotations

import ctypes
import functools
import os
import pathlib

import llama_cpp

GGML_MAX_N_THREADS = 512


class ThreadpoolParams(ctypes.Structure):
    _fields_ = [("cpumask", ctypes.c_bool * GGML_MAX_N_THREADS), ("n_threads", ctypes.c_int),
                ("prio", ctypes.c_int), ("poll", ctypes.c_uint32), ("strict_cpu", ctypes.c_bool),
                ("paused", ctypes.c_bool)]


def _loaded(folder: pathlib.Path, name: str) -> ctypes.CDLL:
    """The copy of lib<name> llama.cpp itself uses (wheels ship several copies of each library)."""
    for path in sorted(folder.glob(f"lib{name}.*"), key=lambda p: -len(p.name)):
        try:
            return ctypes.CDLL(path.name, mode=os.RTLD_NOLOAD | ctypes.RTLD_GLOBAL)
        except OSError:
            continue
    raise OSError(f"lib{name} is not loaded")


@functools.cache
def _libs() -> tuple[ctypes.CDLL, ctypes.CDLL, ctypes.CDLL] | None:
    folder = pathlib.Path(llama_cpp.__file__).parent / "lib"
    try:
        base, cpu = _loaded(folder, "ggml-base"), _loaded(folder, "ggml-cpu")
    except (OSError, AttributeError):
        return None  # not found as loaded (other platform or build): ggml's per-graph pool applies
    llama = llama_cpp.llama_cpp._lib
    base.ggml_threadpool_params_init.argtypes = [ctypes.POINTER(ThreadpoolParams), ctypes.c_int]
    cpu.ggml_threadpool_new.argtypes = [ctypes.POINTER(ThreadpoolParams)]
    cpu.ggml_threadpool_new.restype = ctypes.c_void_p
    cpu.ggml_threadpool_free.argtypes = [ctypes.c_void_p]
    llama.llama_attach_threadpool.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    llama.llama_attach_threadpool.restype = None
    return base, cpu, llama


def attach(ctx: int, n_threads: int, poll: int = 50, cpus: frozenset[int] = frozenset()) -> int | None:
    """Attach a new threadpool (llama-bench's defaults: poll 50, normal priority; its -C mask) to `ctx`."""
    libs = _libs()
    if libs is None:
        return None
    base, cpu, llama = libs
    params = ThreadpoolParams()
    base.ggml_threadpool_params_init(ctypes.byref(params), n_threads)
    params.poll = poll
    for i in cpus:
        params.cpumask[i] = True
    pool: int | None = cpu.ggml_threadpool_new(ctypes.byref(params))
    if pool:
        llama.llama_attach_threadpool(ctypes.cast(ctx, ctypes.c_void_p), pool, pool)
    return pool


def free(pool: int | None) -> None:
    """Free a threadpool after its context is freed."""
    libs = _libs() if pool else None  # a pool exists only where attach found the libraries (cached)
    if libs is not None:
        libs[1].ggml_threadpool_free(pool)
