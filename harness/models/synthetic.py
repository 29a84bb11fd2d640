"""A synthetic GPT-OSS model: architecture `gpt-oss` exactly as llama.cpp loads it, random weights.

Attention sinks, alternating sliding-window layers (llama.cpp's gpt-oss pattern of 2), MoE experts
with biases, separate output head, and the real o200k_harmony vocabulary with the gpt-oss chat
template. Weights come from a fixed seed, so two builds of one shape give the same bytes.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import gguf
import numpy as np

from harness.config.schema import ArchConfig
from harness.models import vocab

T = gguf.MODEL_TENSOR
WRITER_VERSION = 1  # bump when the bytes written for one ArchConfig change


def chat_template() -> str:
    """The gpt-oss Harmony chat template as llama.cpp ships it (models/templates/, MIT)."""
    return (resources.files("harness") / "data" / "templates" / "openai-gpt-oss-120b.jinja").read_text()


def _name(tensor: gguf.MODEL_TENSOR, suffix: str, bid: int | None = None) -> str:
    base = gguf.TENSOR_NAMES[tensor]
    return (base.format(bid=bid) if bid is not None else base) + "." + suffix


def _tensors(a: ArchConfig, n_vocab: int) -> Iterator[tuple[str, tuple[int, ...], str]]:
    """(name, numpy shape, kind) in llama.cpp's order; numpy shapes are ggml's reversed."""
    q, kv = a.n_head * a.head_dim, a.n_head_kv * a.head_dim
    yield _name(T.TOKEN_EMBD, "weight"), (n_vocab, a.n_embd), "w"
    for i in range(a.n_layer):
        yield _name(T.ATTN_NORM, "weight", i), (a.n_embd,), "one"
        for t, n in ((T.ATTN_Q, q), (T.ATTN_K, kv), (T.ATTN_V, kv)):
            yield _name(t, "weight", i), (n, a.n_embd), "w"
            yield _name(t, "bias", i), (n,), "b"
        yield _name(T.ATTN_OUT, "weight", i), (a.n_embd, q), "w"
        yield _name(T.ATTN_OUT, "bias", i), (a.n_embd,), "b"
        yield _name(T.ATTN_SINKS, "weight", i), (a.n_head,), "b"
        yield _name(T.ATTN_POST_NORM, "weight", i), (a.n_embd,), "one"
        yield _name(T.FFN_GATE_INP, "weight", i), (a.n_expert, a.n_embd), "w32"
        yield _name(T.FFN_GATE_INP, "bias", i), (a.n_expert,), "b"
        for t in (T.FFN_GATE_EXP, T.FFN_UP_EXP):
            yield _name(t, "weight", i), (a.n_expert, a.n_ff_exp, a.n_embd), "w"
            yield _name(t, "bias", i), (a.n_expert, a.n_ff_exp), "b"
        yield _name(T.FFN_DOWN_EXP, "weight", i), (a.n_expert, a.n_embd, a.n_ff_exp), "w"
        yield _name(T.FFN_DOWN_EXP, "bias", i), (a.n_expert, a.n_embd), "b"
    yield _name(T.OUTPUT_NORM, "weight"), (a.n_embd,), "one"
    yield _name(T.OUTPUT, "weight"), (n_vocab, a.n_embd), "w"


def _data(rng: np.random.Generator, shape: tuple[int, ...], kind: str) -> np.ndarray:
    if kind == "one":
        return np.ones(shape, dtype=np.float32)
    x = rng.standard_normal(shape, dtype=np.float32)
    if kind == "b":
        return x * np.float32(0.01)
    x *= np.float32(0.02)
    return x if kind == "w32" else x.astype(np.float16)


def write(arch: ArchConfig, path: Path, name: str) -> Path:
    """Write the F16 synthetic model to `path` (atomically) and return it."""
    logging.getLogger("gguf").setLevel(logging.WARNING)
    v = vocab.gguf_vocab()
    n_vocab = len(v.tokens)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    w = gguf.GGUFWriter(str(tmp), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.GPT_OSS])
    w.add_name(name)
    w.add_description(f"synthetic gpt-oss, random weights (seed {arch.seed}), harness writer v{WRITER_VERSION}")
    w.add_context_length(arch.n_ctx_train)
    w.add_embedding_length(arch.n_embd)
    w.add_block_count(arch.n_layer)
    w.add_feed_forward_length(arch.n_ff_exp)
    w.add_expert_feed_forward_length(arch.n_ff_exp)
    w.add_head_count(arch.n_head)
    w.add_head_count_kv(arch.n_head_kv)
    w.add_key_length(arch.head_dim)
    w.add_value_length(arch.head_dim)
    w.add_rope_dimension_count(arch.head_dim)
    w.add_rope_freq_base(arch.rope_freq_base)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_sliding_window(arch.sliding_window)
    w.add_expert_count(arch.n_expert)
    w.add_expert_used_count(arch.n_expert_used)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    vocab.add_to_gguf(w, chat_template())
    rng = np.random.default_rng(arch.seed)
    for tname, shape, kind in _tensors(arch, n_vocab):
        w.add_tensor(tname, _data(rng, shape, kind))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(tmp, path)
    return path
