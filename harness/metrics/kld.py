"""What a quant costs in quality: next-token distributions of a quant against its base, as
llama-perplexity's `--kl-divergence` defines them, computed with numpy in float64.

The base's log-probabilities are kept as llama-perplexity keeps them (`--kl-divergence-base`): per
token two float32 (scale, min_log_prob) in four uint16 slots, then one uint16 per vocabulary entry,
`log p = scale * q + min_log_prob` over the range [max - 16, max] of the logits. `encode` writes that
form, `decode` reads it; `token_stats` compares a quant's logits with it, token by token.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
U16 = npt.NDArray[np.uint16]
I32 = npt.NDArray[np.int32]

LOGIT_RANGE = 16.0  # logits more than this below the max are stored as the floor (llama-perplexity)
LOG_P_FLOOR = -16.0  # base log-probs at or below this are left out of the KL sum (llama-perplexity)
ROWS = 32  # tokens a block: float64 over a 201k vocabulary is 1.6 MB a row


def row_width(n_vocab: int) -> int:
    """uint16 slots per token in a base file: the header (two float32) and the vocabulary, even."""
    return 2 * ((n_vocab + 1) // 2) + 4


def log_softmax(logits: npt.NDArray[np.floating]) -> F64:
    """Row-wise log-softmax in float64."""
    x = np.asarray(logits, dtype=np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    out: F64 = x - np.log(np.exp(x).sum(axis=-1, keepdims=True))
    return out


def encode(logits: F32, targets: I32) -> tuple[U16, F64]:
    """The base's rows as llama-perplexity stores them, and the negative log-likelihood of each target."""
    n, n_vocab = logits.shape
    out = np.zeros((n, row_width(n_vocab)), dtype=np.uint16)
    nll = np.empty(n, dtype=np.float64)
    for s in range(0, n, ROWS):
        x = np.asarray(logits[s:s + ROWS], dtype=np.float64)
        mx = x.max(axis=1)
        mn = np.maximum(x.min(axis=1), mx - LOGIT_RANGE)
        lse = np.log(np.exp(x - mx[:, None]).sum(axis=1))
        scale = ((mx - mn) / 65535.0).astype(np.float32)
        head = np.stack([scale, (mn - mx - lse).astype(np.float32)], axis=1)
        out[s:s + ROWS, :4] = head.view(np.uint16)
        inv = np.divide(1.0, scale, out=np.zeros(len(scale)), where=scale > 0)[:, None]
        q = np.where(x > mn[:, None], np.rint((x - mn[:, None]) * inv), 0.0)
        out[s:s + ROWS, 4:4 + n_vocab] = np.clip(q, 0, 65535).astype(np.uint16)
        rows = np.arange(len(x))
        nll[s:s + ROWS] = mx + lse - x[rows, targets[s:s + ROWS]]
    return out, nll


def decode(rows: U16, n_vocab: int) -> F64:
    """Base log-probs (float64) from stored rows."""
    head = np.ascontiguousarray(rows[:, :4]).view(np.float32).astype(np.float64)
    return head[:, :1] * rows[:, 4:4 + n_vocab].astype(np.float64) + head[:, 1:2]


@dataclass(frozen=True)
class TokenStats:
    """Per scored token: KL(base || quant), the quant's and the base's NLL of the next token, same argmax."""
    kld: F64
    nll: F64
    nll_base: F64
    same_top: npt.NDArray[np.bool_]

    @staticmethod
    def concat(parts: list[TokenStats]) -> TokenStats:
        return TokenStats(*(np.concatenate([getattr(p, f) for p in parts])
                            for f in ("kld", "nll", "nll_base", "same_top")))


def token_stats(logits: F32, base_rows: U16, targets: I32, base_nll: F64 | None = None) -> TokenStats:
    """Compare a quant's logits (n, n_vocab) with the base's stored rows for the same n tokens. `base_nll`:
    the base's exact NLL of each target (`encode` gives it); without it, it is read from the rows as
    llama-perplexity does, where a target more than 16 nats below the base's top is floored."""
    n, n_vocab = logits.shape
    kld, nll, nll_base = np.empty(n), np.empty(n), np.empty(n)
    same = np.empty(n, dtype=bool)
    for s in range(0, n, ROWS):
        lq = log_softmax(logits[s:s + ROWS])
        lp = decode(base_rows[s:s + ROWS], n_vocab)
        rows, tok = np.arange(len(lq)), targets[s:s + ROWS]
        kept = lp > LOG_P_FLOOR
        kld[s:s + ROWS] = np.where(kept, np.exp(lp) * (lp - lq), 0.0).sum(axis=1)
        nll[s:s + ROWS] = -lq[rows, tok]
        nll_base[s:s + ROWS] = -lp[rows, tok] if base_nll is None else base_nll[s:s + ROWS]
        same[s:s + ROWS] = np.argmax(logits[s:s + ROWS], axis=1) == np.argmax(lp, axis=1)
    return TokenStats(kld, nll, nll_base, same)


def exact_kld(base_logits: F32, logits: F32) -> F64:
    """KL(base || quant) per token from both models' logits, in float64 over the whole vocabulary
    (what the stored form approximates; the tests bound the difference)."""
    out = np.empty(len(logits))
    for s in range(0, len(logits), ROWS):
        lp, lq = log_softmax(base_logits[s:s + ROWS]), log_softmax(logits[s:s + ROWS])
        out[s:s + ROWS] = (np.exp(lp) * (lp - lq)).sum(axis=1)
    return out


def summary(t: TokenStats) -> dict[str, float | int]:
    """The kld row's columns; the percentile interpolates linearly between ranks, as llama-perplexity's."""
    mean_nll, mean_base = float(t.nll.mean()), float(t.nll_base.mean())
    return {"kld_mean": float(t.kld.mean()), "kld_p99": float(np.percentile(t.kld, 99)),
            "top1_agree": float(t.same_top.mean()), "ppl": math.exp(mean_nll), "ppl_base": math.exp(mean_base),
            "ppl_ratio": math.exp(mean_nll - mean_base), "n_tokens": len(t.kld)}


def pareto(speed: list[float], kld: list[float]) -> list[bool]:
    """Which points are on the speed/quality front: no other point is at least as fast and at least as
    close to the base, and better in one of the two."""
    return [not any(s2 >= s and k2 <= k and (s2 > s or k2 < k) for s2, k2 in zip(speed, kld, strict=True))
            for s, k in zip(speed, kld, strict=True)]
