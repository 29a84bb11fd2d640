"""Roofline of token generation: bytes read per generated token against the memory bandwidth.

A generated token reads every weight it uses once: all dense tensors, one row of the token
embedding, and of each expert tensor (`*_exps`) only the top-k of n_expert experts; plus the K and
V of every position it attends to (n_depth + n_gen / 2 on average over a tg test; sliding-window
layers at most the window). Bytes per weight come from each tensor's GGML type (gguf's
GGML_QUANT_SIZES), so the estimate follows the file's real quantization mix. tg as a percentage
of mem_bw / bytes_per_token says how close a run comes to what its memory allows.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFReader

from harness.metrics.bandwidth import device_gbs
from harness.models.vocab import cache_root

SWA_PATTERN = {"gpt-oss": 2}  # llama.cpp: layer il is sliding-window when il % n < n - 1


@dataclass(frozen=True)
class ModelBytes:
    """What one generated token reads of a GGUF, before the KV cache."""
    dense: int                   # dense tensors, with one row of the token embedding
    experts_all: int             # every expert tensor in full
    n_expert: int
    n_expert_used: int
    kv_heads: tuple[int, ...]    # per layer
    key_length: int
    value_length: int
    swa: tuple[bool, ...]        # per layer: sliding-window attention
    window: int

    @property
    def experts(self) -> float:
        return self.experts_all * self.n_expert_used / self.n_expert if self.n_expert else self.experts_all

    @property
    def weights(self) -> float:
        return self.dense + self.experts

    def kv(self, positions: float, type_k: str = "f16", type_v: str = "f16") -> float:
        """K and V bytes read by one token attending to `positions` positions."""
        per_pos = self.key_length * type_bytes(type_k) + self.value_length * type_bytes(type_v)
        return sum(heads * per_pos * (min(positions, self.window) if swa and self.window else positions)
                   for heads, swa in zip(self.kv_heads, self.swa))

    def per_token(self, n_depth: int, n_gen: int, type_k: str = "f16", type_v: str = "f16") -> int:
        """Bytes per generated token of a tg<n_gen> test at depth n_depth (average over its tokens)."""
        return round(self.weights + self.kv(n_depth + n_gen / 2, type_k, type_v))


def type_bytes(name: str) -> float:
    """Bytes per element of a GGML type by name (f16, q8_0, Q4_K ...)."""
    block, size = GGML_QUANT_SIZES[GGMLQuantizationType[name.upper()]]
    return size / block


def tensor_bytes(t) -> int:
    block, size = GGML_QUANT_SIZES[GGMLQuantizationType(int(t.tensor_type))]
    return int(t.n_elements) // block * size


def _field(reader: GGUFReader, key: str, default=None):
    f = reader.fields.get(key)
    if f is None:
        return default
    values = [f.parts[i] for i in f.data]
    if len(values) == 1 and len(values[0]) > 1 and values[0].dtype == np.uint8:
        return bytes(values[0]).decode()  # a string
    flat = [v.tolist()[0] for v in values]
    return flat[0] if len(flat) == 1 and f.types[0].name != "ARRAY" else flat


@functools.lru_cache(maxsize=32)
def model_bytes(path: str) -> ModelBytes:
    r = GGUFReader(path)
    arch = _field(r, "general.architecture")
    n_layer = int(_field(r, f"{arch}.block_count"))
    n_head = _field(r, f"{arch}.attention.head_count")
    heads_kv = _field(r, f"{arch}.attention.head_count_kv", n_head)
    heads_kv = tuple(heads_kv) if isinstance(heads_kv, list) else (int(heads_kv),) * n_layer
    n_embd = int(_field(r, f"{arch}.embedding_length"))
    head_dim = n_embd // int(n_head if not isinstance(n_head, list) else max(n_head))
    window = int(_field(r, f"{arch}.attention.sliding_window", 0) or 0)
    pattern = _field(r, f"{arch}.attention.sliding_window_pattern", SWA_PATTERN.get(arch, 0))
    if isinstance(pattern, list):
        swa = tuple(bool(p) for p in pattern)
    else:
        swa = tuple(bool(window and pattern and il % pattern < pattern - 1) for il in range(n_layer))
    names = {t.name for t in r.tensors}
    dense = experts = 0
    for t in r.tensors:
        size = tensor_bytes(t)
        if "_exps" in t.name:
            experts += size
        elif t.name.startswith("token_embd.") and "output.weight" in names:
            dense += size // int(np.prod([int(d) for d in t.shape[1:]]))  # one row per token
        else:
            dense += size
    return ModelBytes(dense, experts, int(_field(r, f"{arch}.expert_count", 0) or 0),
                      int(_field(r, f"{arch}.expert_used_count", 0) or 0), heads_kv,
                      int(_field(r, f"{arch}.attention.key_length", head_dim)),
                      int(_field(r, f"{arch}.attention.value_length", head_dim)), swa, window)


def model_file(row) -> Path | None:
    """The GGUF a row measured, if it is on this machine: its model_path, a model_filename that is a
    path, or a file of that name in the harness model cache."""
    for p in (row.get("model_path", ""), row.get("model_filename", "")):
        if p and Path(p).is_file():
            return Path(p)
    name = Path(row.get("model_filename", "") or "").name
    if name:
        return next((p for p in sorted((cache_root() / "models").glob(f"*/{name}")) if p.is_file()), None)
    return None


def is_tg(row) -> bool:
    return (row.get("workload") == "pp_tg" and row.get("status") == "ok" and row.get("n_prompt") in ("0", "")
            and row.get("n_gen", "") not in ("", "0"))


def fill(df: pd.DataFrame, given_gbs: float | None = None) -> pd.DataFrame:
    """A copy of the rows (dtype str) with bytes_per_token, mem_bw_gbs and roofline_pct filled for
    the tg rows whose GGUF is here and whose device bandwidth is known; the rest left as they were."""
    out = df.copy()
    for col in ("bytes_per_token", "mem_bw_gbs", "roofline_pct"):
        if col not in out.columns:
            out[col] = ""
    bw_of: dict[tuple[str, str, str], float | None] = {}
    for i, row in out.iterrows():
        if not is_tg(row):
            continue
        if not row["bytes_per_token"]:
            path = model_file(row)
            if path is not None:
                mb = model_bytes(str(path))
                out.at[i, "bytes_per_token"] = str(mb.per_token(int(row.get("n_depth") or 0), int(row["n_gen"]),
                                                                row.get("type_k") or "f16", row.get("type_v") or "f16"))
        if given_gbs or not row["mem_bw_gbs"]:
            dev = row.get("device") or row.get("gpu_info", "")
            key = (row.get("accel", ""), dev, row.get("cpu_info", ""))
            if key not in bw_of:
                bw_of[key] = device_gbs(*key, given=given_gbs)[0]
            if bw_of[key]:
                out.at[i, "mem_bw_gbs"] = f"{bw_of[key]:.1f}"
        b, bw, ts = out.at[i, "bytes_per_token"], out.at[i, "mem_bw_gbs"], row.get("avg_ts", "")
        if b and bw and ts:
            out.at[i, "roofline_pct"] = f"{100 * float(ts) * float(b) / (float(bw) * 1e9):.2f}"
    return out
