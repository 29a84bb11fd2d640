"""The base's next-token log-probabilities on disk, in llama-perplexity's `--kl-divergence-base` file
format (so `llama-perplexity --kl-divergence --kl-divergence-base FILE` reads ours as well):

    b"_logits_", uint32 n_ctx, int32 n_vocab, int32 n_chunk, int32 tokens[n_chunk * n_ctx],
    then per chunk, for its n_ctx - 1 - n_ctx/2 scored tokens, metrics.kld.row_width(n_vocab) uint16.

Kept under the model cache (`<models>/kld/`), named by what decides the numbers: the base file
(name, size, mtime), the text's hash, n_ctx, chunks and the context settings that change logits.
Beside it, `FILE.nll.npy` keeps the base's exact float64 NLL of each scored token (the 16-bit rows
floor a token more than 16 nats below the top; llama-perplexity's own files have no such sidecar,
and then the NLL is read from the rows as it does).
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.metrics import kld

MAGIC = b"_logits_"
FORMAT = 2  # in the cache key: a change to what is stored computes the base again
_HEAD = struct.Struct("<Iii")


def scored(n_ctx: int) -> int:
    """Tokens scored per chunk: the second half, less the last (no next token), as llama-perplexity."""
    return n_ctx - 1 - n_ctx // 2


@dataclass(frozen=True)
class BaseKey:
    """What the base's stored rows depend on."""
    model: Path
    text_sha256: str
    n_ctx: int
    chunks: int
    context: tuple[tuple[str, Any], ...]  # context settings that change the logits (n_ubatch, flash_attn, ...)

    def path(self, folder: Path) -> Path:
        st = self.model.stat()
        blob = json.dumps({"format": FORMAT, "model": self.model.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                           "text": self.text_sha256, "n_ctx": self.n_ctx, "chunks": self.chunks,
                           "context": list(self.context)}, sort_keys=True)
        digest = hashlib.sha256(blob.encode()).hexdigest()[:16]
        return folder / f"{self.model.stem}-c{self.n_ctx}-{digest}.kld-base"


class BaseFile:
    """A base file open for reading: its tokens and a memory map of its rows."""

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as f:
            magic = f.read(len(MAGIC))
            head = f.read(_HEAD.size)
            if magic != MAGIC or len(head) != _HEAD.size:
                raise ValueError(f"{path} is not a llama-perplexity log-probability file")
            self.n_ctx, self.n_vocab, self.n_chunk = _HEAD.unpack(head)
        offset = len(MAGIC) + _HEAD.size
        self.tokens = np.fromfile(path, dtype=np.int32, count=self.n_ctx * self.n_chunk, offset=offset)
        offset += self.tokens.nbytes
        shape = (self.n_chunk * scored(self.n_ctx), kld.row_width(self.n_vocab))
        if path.stat().st_size != offset + shape[0] * shape[1] * 2:
            raise ValueError(f"{path} is truncated or not for n_ctx={self.n_ctx}, n_vocab={self.n_vocab}")
        self.rows = np.memmap(path, dtype=np.uint16, mode="r", offset=offset, shape=shape)
        sidecar = nll_path(path)
        self.nll: kld.F64 | None = np.load(sidecar) if sidecar.is_file() else None
        if self.nll is not None and len(self.nll) != shape[0]:
            raise ValueError(f"{sidecar} has {len(self.nll)} values, not one per scored token ({shape[0]})")

    def chunk(self, i: int) -> tuple[kld.U16, kld.F64 | None]:
        """The stored rows of chunk i and the base's exact NLL of its targets (None: not kept)."""
        n = scored(self.n_ctx)
        return np.asarray(self.rows[i * n:(i + 1) * n]), None if self.nll is None else self.nll[i * n:(i + 1) * n]


def nll_path(path: Path) -> Path:
    return path.with_name(path.name + ".nll.npy")


class BaseWriter:
    """Writes a base file chunk by chunk to a temporary name; `commit` moves it into place."""

    def __init__(self, path: Path, n_ctx: int, n_vocab: int, tokens: kld.I32) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.tmp = path, path.with_name(f"{path.name}.tmp{os.getpid()}")
        self.f = open(self.tmp, "wb")  # noqa: SIM115 (closed by commit or abort)
        self.f.write(MAGIC + _HEAD.pack(n_ctx, n_vocab, len(tokens) // n_ctx))
        self.f.write(np.ascontiguousarray(tokens, dtype=np.int32).tobytes())
        self.nll: list[kld.F64] = []

    def add(self, rows: kld.U16, nll: kld.F64) -> None:
        self.f.write(np.ascontiguousarray(rows).tobytes())
        self.nll.append(nll)

    def commit(self) -> Path:
        """The sidecar first, then the file: a file in place always has its sidecar."""
        self.f.close()
        tmp_nll = self.tmp.with_name(self.tmp.name + ".nll.npy")
        np.save(tmp_nll, np.concatenate(self.nll))
        os.replace(tmp_nll, nll_path(self.path))
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        self.f.close()
        self.tmp.unlink(missing_ok=True)
