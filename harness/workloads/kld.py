"""workload=kld: what a quant costs in quality, as llama-perplexity's `--kl-divergence` measures it.

The text (`workload.text`, default harness/data/text/mixed.txt) is tokenized as llama-perplexity
tokenizes `-f` (one trailing newline dropped, special tokens not parsed) and cut into chunks of
`workload.n_ctx` tokens; each chunk is decoded from an empty KV cache in one batch and the
second half of it is scored (the logits at positions n_ctx/2 .. n_ctx-2 predict the next token).
The base (`workload.base_quant` of the same preset, F16 by default) is decoded once; its
log-probabilities are kept under the model cache in llama-perplexity's base-file format
(workload/kld_base.py). Each quant's logits are then compared with them in float64
(metrics/kld.py): mean and 99th percentile of KL(base || quant) per token, top-1 agreement,
both perplexities and their ratio. In-process only: it needs the full logits.

`python -m harness.workloads.kld_check` runs the same measurement beside llama-perplexity's own.
"""
from __future__ import annotations

import copy
import ctypes
import dataclasses
import hashlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import llama_cpp
import numpy as np
from omegaconf import OmegaConf

from harness.backends.base import Unsupported
from harness.backends.inprocess import FLASH_ATTN, KV_TYPES, BackendError, InProcessBackend
from harness.metrics import kld
from harness.models import cache
from harness.models.llama_log import llama_log
from harness.workloads.kld_base import BaseFile, BaseKey, BaseWriter, scored

if TYPE_CHECKING:
    from harness.config.schema import BackendConfig, BenchConfig, WorkloadConfig


def shipped_text() -> Path:
    return Path(str(resources.files("harness") / "data" / "text" / "mixed.txt"))


def text_path(w: WorkloadConfig) -> Path:
    """workload.text, or the shipped text."""
    return Path(str(w.text)).expanduser() if w.text else shipped_text()


def read_text(path: Path) -> str:
    """The text as llama-perplexity's -f reads it: one trailing newline dropped."""
    text = path.read_text(encoding="utf-8")
    return text[:-1] if text.endswith("\n") else text


def tokenize(model: Any, text: str) -> kld.I32:
    """Token ids as llama-perplexity's common_tokenize(ctx, text, add_special=true) makes them."""
    vocab = llama_cpp.llama_model_get_vocab(model)
    raw = text.encode()
    buf = (llama_cpp.llama_token * (len(raw) + 8))()
    n = llama_cpp.llama_tokenize(vocab, raw, len(raw), buf, len(buf), True, False)
    if n < 0:
        raise BackendError(f"tokenize needs {-n} tokens, more than the {len(buf)} expected")
    return np.array(buf[:n], dtype=np.int32)


def chunked(tokens: kld.I32, n_ctx: int, chunks: int) -> kld.I32:
    """The tokens of the chunks scored: all whole chunks (or the first `chunks`); at least two, as
    llama-perplexity asks."""
    if len(tokens) < 2 * n_ctx:
        raise ValueError(f"the text tokenizes to {len(tokens)} tokens; workload.n_ctx={n_ctx} needs at least "
                         f"{2 * n_ctx} (two chunks); use a longer workload.text or a smaller workload.n_ctx")
    n = len(tokens) // n_ctx if chunks <= 0 else min(chunks, len(tokens) // n_ctx)
    return tokens[:n * n_ctx]


class Scorer:
    """A context of n_ctx on a loaded model that decodes one chunk per batch (as llama-perplexity with
    -b n_ctx) and hands back the logits of the scored positions."""

    def __init__(self, model: Any, n_ctx: int, b: BackendConfig, n_threads: int, type_k: str, type_v: str) -> None:
        p = llama_cpp.llama_context_default_params()
        p.n_ctx = p.n_batch = n_ctx
        p.n_ubatch = min(b.n_ubatch, n_ctx)
        p.n_seq_max = 1
        p.n_threads = p.n_threads_batch = n_threads
        p.flash_attn_type = FLASH_ATTN[b.flash_attn]
        p.type_k, p.type_v = KV_TYPES[type_k], KV_TYPES[type_v]
        p.swa_full = False  # as llama-perplexity (common's default)
        p.no_perf = True
        self.ctx = llama_cpp.llama_init_from_model(model, p)
        if not self.ctx:
            raise BackendError(f"llama.cpp could not create a scoring context (n_ctx={n_ctx}): "
                               f"{llama_log().reason() or 'no reason logged'}")
        vocab = llama_cpp.llama_model_get_vocab(model)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
        self.bos = llama_cpp.llama_vocab_bos(vocab) if llama_cpp.llama_vocab_get_add_bos(vocab) else None
        self.n_ctx, self.first = n_ctx, n_ctx // 2
        self.batch = llama_cpp.llama_batch_init(n_ctx, 0, 1)

    def logits(self, chunk: kld.I32) -> kld.F32:
        """Logits (scored(n_ctx), n_vocab) of one chunk; a view valid until the next call."""
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self.ctx), True)
        b = self.batch
        b.n_tokens = self.n_ctx
        for k in range(self.n_ctx):
            b.token[k] = self.bos if k == 0 and self.bos is not None else int(chunk[k])
            b.pos[k] = k
            b.n_seq_id[k] = 1
            b.seq_id[k][0] = 0
            b.logits[k] = k >= self.first
        rc = llama_cpp.llama_decode(self.ctx, b)
        if rc != 0:
            raise BackendError(f"llama_decode returned {rc} for a chunk of {self.n_ctx} tokens: "
                               f"{llama_log().reason() or 'no reason logged'}")
        ptr = llama_cpp.llama_get_logits_ith(self.ctx, self.first)
        n = scored(self.n_ctx)
        out: kld.F32 = np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)),
                                             shape=(n, self.n_vocab))
        return out

    def chunks(self, tokens: kld.I32) -> Iterator[tuple[kld.F32, kld.I32]]:
        """(logits, next tokens) per chunk."""
        for start in range(0, len(tokens), self.n_ctx):
            chunk = tokens[start:start + self.n_ctx]
            yield self.logits(chunk), chunk[self.first + 1:]

    def close(self) -> None:
        llama_cpp.llama_batch_free(self.batch)
        llama_cpp.llama_free(self.ctx)


def _with_quant(model: Any, quant: str) -> Any:
    """The model config with another quant (a DictConfig or the dataclass)."""
    if dataclasses.is_dataclass(model) and not isinstance(model, type):
        return dataclasses.replace(model, quant=quant)
    m = copy.deepcopy(model)
    OmegaConf.set_readonly(m, False)
    m.quant = quant
    return m


def base_model_path(cfg: BenchConfig) -> Path:
    """The GGUF of the base quant of the same preset (built if synthetic and missing)."""
    return cache.prepare(_with_quant(cfg.model, cfg.workload.base_quant))


def _load(path: Path, b: BackendConfig) -> Any:
    params = llama_cpp.llama_model_default_params()
    params.n_gpu_layers = b.n_gpu_layers
    params.use_extra_bufts = bool(getattr(b, "repack", True))
    ptr = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
    if not ptr:
        raise BackendError(f"llama.cpp could not load {path}: {llama_log().reason() or 'no reason logged'}")
    return ptr


@dataclass(frozen=True)
class KldCase:
    n_ctx: int
    base_quant: str
    text: str     # the text's file stem, '' for the shipped one
    chunks: int   # 0: all

    @property
    def name(self) -> str:
        text = f":{self.text}" if self.text else ""
        base = f" vs {self.base_quant}" if self.base_quant != "F16" else ""
        chunks = f" x{self.chunks}" if self.chunks else ""
        return f"kld{text} c{self.n_ctx}{chunks}{base}"

    def columns(self) -> dict[str, Any]:
        return {"test": self.name, "n_ctx": self.n_ctx, "n_batch": self.n_ctx, "n_depth": 0}


class KldWorkload:
    def __init__(self, cfg: BenchConfig, backend: Any) -> None:
        if backend is not None and not isinstance(backend, InProcessBackend):
            raise Unsupported("workload=kld needs the full logits: use backend=inprocess")
        self.cfg, self.w = cfg, cfg.workload
        self._be: InProcessBackend | None = backend

    @property
    def backend(self) -> InProcessBackend:
        if self._be is None:
            raise RuntimeError("a kld workload planned without a backend cannot run")
        return self._be

    def cases(self) -> list[KldCase]:
        custom = text_path(self.w).resolve() != shipped_text().resolve()
        return [KldCase(self.w.n_ctx, self.w.base_quant, text_path(self.w).stem if custom else "", self.w.chunks)]

    def _key(self, base: Path, text: str) -> BaseKey:
        b = self.cfg.backend
        context = (("n_ubatch", min(b.n_ubatch, self.w.n_ctx)), ("flash_attn", b.flash_attn),
                   ("repack", bool(getattr(b, "repack", True))), ("n_gpu_layers", b.n_gpu_layers))
        return BaseKey(base, hashlib.sha256(text.encode()).hexdigest(), self.w.n_ctx, self.w.chunks, context)

    def base(self, tokens: kld.I32, text: str) -> BaseFile:
        """The base's stored log-probs for these tokens, computed now if the cache has none."""
        path = base_model_path(self.cfg)
        target = self._key(path, text).path(cache.models_dir(self.cfg.model) / "kld")
        if not target.is_file():
            print(f"kld: computing the base ({path.name}) once: {target}", file=sys.stderr, flush=True)
            self._write_base(path, target, tokens)
        stored = BaseFile(target)
        if stored.n_ctx != self.w.n_ctx or not np.array_equal(stored.tokens, tokens):
            raise ValueError(f"{target} holds other tokens than the text gives; delete it to compute it again")
        return stored

    def _write_base(self, path: Path, target: Path, tokens: kld.I32) -> None:
        """Decode the base (an F16 KV cache) over the chunks and store its rows and exact NLL."""
        b = self.cfg.backend
        model = _load(path, b)
        try:
            scorer = Scorer(model, self.w.n_ctx, b, self.backend.n_threads, "f16", "f16")
            try:
                out = BaseWriter(target, self.w.n_ctx, scorer.n_vocab, tokens)
                try:
                    for logits, nxt in scorer.chunks(tokens):
                        out.add(*kld.encode(logits, nxt))
                    out.commit()
                except BaseException:
                    out.abort()
                    raise
            finally:
                scorer.close()
        finally:
            llama_cpp.llama_model_free(model)

    def run(self, case: KldCase) -> dict[str, Any]:
        be = self.backend
        text = read_text(text_path(self.w))
        tokens = chunked(tokenize(be.model, text), case.n_ctx, case.chunks)
        base = self.base(tokens, text)
        b = self.cfg.backend
        scorer = Scorer(be.model, case.n_ctx, b, be.n_threads, b.type_k, b.type_v)
        if scorer.n_vocab != base.n_vocab:
            scorer.close()
            raise ValueError(f"the base has {base.n_vocab} vocabulary entries, this model {scorer.n_vocab}")
        parts = []
        try:
            for i, (logits, nxt) in enumerate(scorer.chunks(tokens)):
                rows, base_nll = base.chunk(i)
                parts.append(kld.token_stats(logits, rows, nxt, base_nll))
        finally:
            scorer.close()
        return {"status": "ok", "n_ubatch": min(b.n_ubatch, case.n_ctx), **kld.summary(kld.TokenStats.concat(parts))}

