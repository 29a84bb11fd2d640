"""In-process backend on llama-cpp-python's low-level API (the decode path llama-bench uses).

The model is loaded once and kept while the load parameters (file, n_gpu_layers, load mode) stay
the same across points, as llama-bench does; each start() makes a fresh context for its point.
"""
from __future__ import annotations

import ctypes
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import llama_cpp
import numpy as np

from harness.backends import affinity, buft, devices, nvml, threadpool
from harness.backends.base import StreamEvent, decode_batched
from harness.backends.params import check_devices, cpu_moe_overrides, load_mode, physical_cores
from harness.config import schema
from harness.config.values import check_cpu_mask, parse_overrides, parse_tensor_split
from harness.models import buffers
from harness.models.llama_log import llama_log

if TYPE_CHECKING:
    from harness.backends.base import Tokens
    from harness.config.schema import BackendConfig

_SPELLED = {"mmap+mlock": "MMAP_MLOCK", "dio": "DIRECT_IO", "on": "ENABLED", "off": "DISABLED"}


def _constant(prefix: str, value: str, missing: dict[str, int] | None = None) -> int:
    """llama.cpp's constant for a config value: prefix + the value as llama.h spells it."""
    found: int | None = getattr(llama_cpp, prefix + _SPELLED.get(value, value.upper()), None)
    return found if found is not None else (missing or {})[value]


LOAD_MODES = {m: _constant("LLAMA_LOAD_MODE_", m) for m in schema.LOAD_MODES}
FLASH_ATTN = {f: _constant("LLAMA_FLASH_ATTN_TYPE_", f) for f in schema.FLASH_ATTN}
KV_TYPES = {k: _constant("GGML_TYPE_", k, {"bf16": 30}) for k in schema.KV_TYPES}
SPLIT_MODES = {m: _constant("LLAMA_SPLIT_MODE_", m) for m in schema.SPLIT_MODES}


class BackendError(RuntimeError):
    pass


_MODEL: dict[str, Any] = {}  # the one loaded model: key, ptr, load_s, its load log lines, what it must keep alive


def system_info() -> str:
    info: bytes = llama_cpp.llama_print_system_info()
    return info.decode("utf-8", "replace").strip()


def release_model() -> None:
    if _MODEL:
        llama_cpp.llama_model_free(_MODEL.pop("ptr"))
        _MODEL.clear()


def _offload_params(params: Any, c: BackendConfig) -> dict[str, Any]:
    """Set the device and offload fields of llama_model_params (llama-bench's -sm -mg -ts -ot -ncmoe);
    what they point to is returned, to be kept while the model lives. A device this build does not
    have fails here, in one line."""
    bufts = buft.buffer_types()
    try:
        check_devices(c, sorted(bufts), len(devices.gpus()), "this llama.cpp build")
    except ValueError as exc:
        raise BackendError(str(exc)) from None
    params.split_mode = SPLIT_MODES[c.split_mode]
    params.main_gpu = c.main_gpu
    keep: dict[str, Any] = {}
    split = parse_tensor_split(c.tensor_split)
    if split:
        n = llama_cpp.llama_max_devices()
        keep["tensor_split"] = (ctypes.c_float * n)(*split[:n])
        params.tensor_split = ctypes.cast(keep["tensor_split"], ctypes.POINTER(ctypes.c_float))
    pairs = parse_overrides(c.tensor_buft_overrides) + cpu_moe_overrides(c.n_cpu_moe)  # as llama-bench merges them
    if pairs:
        keep["overrides"] = buft.Overrides(pairs, bufts)
        params.tensor_buft_overrides = keep["overrides"].pointer
    return keep


def _model(path: Path, c: BackendConfig, mode: str, repack: bool) -> tuple[Any, float, bool]:
    """The loaded model for these load parameters; (ptr, load seconds, reused?)."""
    key = "|".join(map(str, (path, c.n_gpu_layers, mode, repack, c.split_mode, c.main_gpu, c.tensor_split,
                             c.tensor_buft_overrides, c.n_cpu_moe)))
    if _MODEL.get("key") == key:
        return _MODEL["ptr"], _MODEL["load_s"], True
    release_model()
    log = llama_log()
    params = llama_cpp.llama_model_default_params()
    params.n_gpu_layers = c.n_gpu_layers
    params.load_mode = LOAD_MODES[mode]
    params.use_extra_bufts = repack
    keep = _offload_params(params, c)
    mark = log.mark()
    t0 = time.perf_counter()
    ptr = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
    load_s = time.perf_counter() - t0
    if not ptr:
        raise BackendError(f"llama.cpp could not load {path}: {log.reason() or 'no reason logged'}")
    _MODEL.update(key=key, ptr=ptr, load_s=load_s, log=log.since(mark), keep=keep, params=params)
    return ptr, load_s, False


def model_log() -> list[str]:
    """The buffer and override lines llama.cpp logged while loading the current model."""
    lines: list[str] = _MODEL.get("log", [])
    return lines


class InProcessBackend:
    name = "inprocess"

    def __init__(self, cfg: BackendConfig, model_path: Path) -> None:
        self.cfg = cfg
        self.model_path = Path(model_path)
        self.n_threads: int = cfg.n_threads or physical_cores()
        self.ctx: llama_cpp.llama_context_p | None = None
        self.pool: int | None = None
        self.model: llama_cpp.llama_model_p | None = None
        self.n_vocab = 0
        self._info: dict[str, Any] = {}
        self._cpus: frozenset[int] = frozenset()
        self._pinned: dict[int, set[int]] | None = None
        self.ctx_params: Any = None  # the context parameters of the last start()

    def start(self) -> None:
        c = self.cfg
        self._cpus = check_cpu_mask(c.cpu_mask)
        self._pinned = affinity.pin(self._cpus)  # before the load: its threads inherit the mask
        repack = getattr(c, "repack", True)  # as DictConfig.get: true where the config has no such key
        if not isinstance(repack, bool):
            raise BackendError(f"backend.repack={repack!r} reached the backend unresolved; it must be true or false")
        self._info = {"n_threads": self.n_threads, "cpu_mask": c.cpu_mask, "load_mode": load_mode(c),
                      "use_mmap": load_mode(c) in ("mmap", "mmap+mlock"), "repack": repack}
        self.model, load_s, reused = _model(self.model_path, c, load_mode(c), repack)
        desc = ctypes.create_string_buffer(256)
        llama_cpp.llama_model_desc(self.model, desc, len(desc))
        self._info.update(model_type=desc.value.decode(), model_size=llama_cpp.llama_model_size(self.model),
                          model_n_params=llama_cpp.llama_model_n_params(self.model),
                          load_s=load_s, model_reused=reused)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(llama_cpp.llama_model_get_vocab(self.model))
        p = llama_cpp.llama_context_default_params()
        p.n_ctx, p.n_batch, p.n_ubatch = c.n_ctx, c.n_batch, c.n_ubatch
        p.n_threads = p.n_threads_batch = self.n_threads
        p.flash_attn_type = FLASH_ATTN[c.flash_attn]
        p.type_k, p.type_v = KV_TYPES[c.type_k], KV_TYPES[c.type_v]
        p.swa_full = c.swa_full  # llama.cpp's default is true; llama-bench and llama-server set false
        p.no_perf = True
        p.offload_kqv = not c.no_kv_offload
        self.ctx_params = p
        mark = llama_log().mark()
        self.ctx = llama_cpp.llama_init_from_model(self.model, p)
        if not self.ctx:
            raise BackendError(f"llama.cpp could not create a context (n_ctx={c.n_ctx}, n_batch={c.n_batch}, "
                               f"n_ubatch={c.n_ubatch}, type_k={c.type_k}, type_v={c.type_v}, "
                               f"flash_attn={c.flash_attn}): {llama_log().reason() or 'no reason logged'}")
        self._info.update(buffers.parse(model_log() + llama_log().since(mark)).columns())
        self._info.update(nvml.used_columns())
        self.pool = threadpool.attach(self.ctx, self.n_threads, c.poll, self._cpus)

    def info(self) -> dict[str, Any]:
        return dict(self._info)

    def clear(self) -> None:
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self.ctx), True)

    def decode(self, tokens: Tokens) -> None:
        arr = np.ascontiguousarray(tokens, dtype=np.int32)
        buf = (llama_cpp.llama_token * len(arr)).from_buffer(arr)  # type: ignore[arg-type]  # numpy: Buffer on 3.12+
        rc = llama_cpp.llama_decode(self.ctx, llama_cpp.llama_batch_get_one(buf, len(arr)))
        if rc != 0:
            raise BackendError(f"llama_decode returned {rc} for a batch of {len(arr)} tokens: "
                               f"{llama_log().reason() or 'no reason logged'}")

    def synchronize(self) -> None:
        llama_cpp.llama_synchronize(self.ctx)

    def decode_each(self, tokens: Tokens) -> None:
        """Decode each token as its own batch and wait for it (tg). The batches are built first, so
        the timed loop is two C calls a token: the model's weights stream through the caches
        between tokens, and every Python step left in the loop runs cold (measured 3-5% of tg)."""
        arr = np.ascontiguousarray(tokens, dtype=np.int32)
        size = ctypes.sizeof(llama_cpp.llama_token)
        # numpy's stubs make ndarray a Buffer only on Python 3.12+
        batches = [llama_cpp.llama_batch_get_one(
                       (llama_cpp.llama_token * 1).from_buffer(arr, i * size), 1)  # type: ignore[arg-type]
                   for i in range(len(arr))]
        decode, sync, ctx = llama_cpp.llama_decode, llama_cpp.llama_synchronize, self.ctx
        for i, batch in enumerate(batches):
            if decode(ctx, batch):
                raise BackendError(f"llama_decode failed at generated token {i}: "
                                   f"{llama_log().reason() or 'no reason logged'}")
            sync(ctx)

    def tokenize(self, text: str) -> list[int]:
        raw = text.encode()
        vocab = llama_cpp.llama_model_get_vocab(self.model)
        buf = (llama_cpp.llama_token * (len(raw) + 8))()
        n = llama_cpp.llama_tokenize(vocab, raw, len(raw), buf, len(buf), False, True)
        if n < 0:
            raise BackendError(f"tokenize needs {-n} tokens, more than the {len(buf)} expected")
        return list(buf[:n])

    def generate(self, prompt: Sequence[int], max_tokens: int, stop: Sequence[int],
                 temperature: float = 0.0, seed: int = 0) -> Iterator[StreamEvent]:
        """Prefill in n_batch chunks, then sample one token at a time (greedy at temperature 0)."""
        self.clear()
        ids = np.asarray(prompt, dtype=np.int32)
        decode_batched(self, ids, self.cfg.n_batch)
        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        if temperature > 0:
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_temp(temperature))
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_dist(seed))
        else:
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_greedy())
        stops = set(stop)
        try:
            for _ in range(max_tokens):
                token = llama_cpp.llama_sampler_sample(chain, self.ctx, -1)
                yield StreamEvent(time.perf_counter_ns(), int(token))
                if token in stops:
                    return
                self.decode(np.array([token], dtype=np.int32))
        finally:
            llama_cpp.llama_sampler_free(chain)

    def stop(self) -> None:
        if self.ctx:
            llama_cpp.llama_free(self.ctx)
            self.ctx = None
        threadpool.free(self.pool)
        self.pool = None
        affinity.restore(self._pinned)
        self._pinned = None
