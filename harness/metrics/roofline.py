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
import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, cast

import numpy as np
import pandas as pd
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

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


def tensor_bytes(t: TensorInfo) -> int:
    block, size = GGML_QUANT_SIZES[GGMLQuantizationType(int(t.tensor_type))]
    return int(t.n_elements) // block * size


class TensorInfo(NamedTuple):
    name: str
    shape: tuple[int, ...]      # ggml's order (ne0 first), as gguf.GGUFReader gives it
    tensor_type: int
    n_elements: int


# GGUF metadata value types: struct format of the scalars; 8 is a string, 9 an array
_SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9


class GGUFHeader:
    """The metadata and tensor infos of a little-endian GGUF (v2, v3), without its data.

    gguf.GGUFReader builds numpy views of every part of every field: the 201088-token vocabulary of
    gpt-oss alone costs it some 20 s of CPU. This reads the scalars and numeric arrays it needs and
    steps over string arrays by their lengths. fields: key -> value (str, number, list of numbers;
    None for an array of strings)."""

    def __init__(self, path: str | Path) -> None:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            self._buf, self._off = buf, 0
            try:
                magic, version = self._unpack("<4sI")
                if magic != b"GGUF" or version not in (2, 3):
                    raise ValueError(f"{path}: not a little-endian GGUF v2/v3 (magic {magic!r}, version {version})")
                n_tensors, n_kv = self._unpack("<QQ")
                self.fields: dict[str, Any] = {}
                for _ in range(n_kv):
                    key = self._string()
                    (vtype,) = self._unpack("<I")
                    self.fields[key] = self._value(vtype)
                self.tensors: list[TensorInfo] = []
                for _ in range(n_tensors):
                    name = self._string()
                    (n_dims,) = self._unpack("<I")
                    shape = self._unpack(f"<{n_dims}Q")
                    ttype, _offset = self._unpack("<IQ")
                    self.tensors.append(TensorInfo(name, shape, ttype, int(np.prod(shape, dtype=np.int64))))
            finally:
                del self._buf

    def _unpack(self, fmt: str) -> tuple[Any, ...]:
        out = struct.unpack_from(fmt, self._buf, self._off)
        self._off += struct.calcsize(fmt)
        return out

    def _string(self) -> str:
        (n,) = self._unpack("<Q")
        self._off += n
        return bytes(self._buf[self._off - n:self._off]).decode("utf-8", errors="replace")

    def _value(self, vtype: int) -> Any:
        if vtype == _STRING:
            return self._string()
        if vtype in _SCALAR:
            return self._unpack("<" + _SCALAR[vtype])[0]
        if vtype != _ARRAY:
            raise ValueError(f"unknown GGUF value type {vtype}")
        etype, count = self._unpack("<IQ")
        if etype in _SCALAR:
            return list(self._unpack(f"<{count}{_SCALAR[etype]}"))
        if etype == _STRING:
            off, buf = self._off, self._buf
            for _ in range(count):  # step over each string by its length
                off += 8 + struct.unpack_from("<Q", buf, off)[0]
            self._off = off
            return None
        return [self._value(etype) for _ in range(count)]  # arrays of arrays


def _field(header: GGUFHeader, key: str, default: Any = None) -> Any:
    value = header.fields.get(key)
    return default if value is None else value


@functools.lru_cache(maxsize=32)
def model_bytes(path: str) -> ModelBytes:
    r = GGUFHeader(path)
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


def model_file(row: pd.Series) -> Path | None:
    """The GGUF a row measured, if it is on this machine: its model_path, a model_filename that is a
    path, or a file of that name in the harness model cache."""
    for p in (row.get("model_path", ""), row.get("model_filename", "")):
        if p and Path(p).is_file():
            return Path(p)
    name = Path(row.get("model_filename", "") or "").name
    if name:
        return next((p for p in sorted((cache_root() / "models").glob(f"*/{name}")) if p.is_file()), None)
    return None


def is_tg(row: pd.Series) -> bool:
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
        cells = out.at[i, "bytes_per_token"], out.at[i, "mem_bw_gbs"], row.get("avg_ts", "")
        b, bw, ts = cast("tuple[str, str, str]", cells)  # the frame is dtype str (pandas-stubs: any scalar)
        if b and bw and ts:
            out.at[i, "roofline_pct"] = f"{100 * float(ts) * float(b) / (float(bw) * 1e9):.2f}"
    return out
