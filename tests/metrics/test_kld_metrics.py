"""The KL divergence arithmetic: llama-perplexity's stored form, per-token statistics, the Pareto front."""
from __future__ import annotations

import math

import numpy as np

from harness.metrics import kld


def _logits(n: int, n_vocab: int, seed: int, spread: float = 3.0) -> np.ndarray:
    return (np.random.default_rng(seed).normal(size=(n, n_vocab)) * spread).astype(np.float32)


def test_stored_log_probs_round_trip_within_half_a_step():
    logits = _logits(40, 1001, 0)
    logits[3, :] = 1.5  # a flat row: scale 0, every entry the max
    targets = np.arange(40, dtype=np.int32)
    rows, nll = kld.encode(logits, targets)
    assert rows.shape == (40, kld.row_width(1001)) == (40, 1006)
    exact = kld.log_softmax(logits)
    back = kld.decode(rows, 1001)
    scale = np.ascontiguousarray(rows[:, :4]).view(np.float32)[:, 0].astype(np.float64)
    kept = logits > logits.max(axis=1, keepdims=True) - kld.LOGIT_RANGE
    err = np.abs(back - exact)
    assert (err[kept] <= (scale[:, None] / 2 + 1e-5).repeat(1001, axis=1)[kept]).all()
    assert np.allclose(back[3], -math.log(1001), atol=1e-5)
    assert np.allclose(nll, -exact[np.arange(40), targets])


def test_a_model_against_itself_costs_nothing_and_a_perturbed_one_does():
    base = _logits(70, 3000, 1)
    targets = np.random.default_rng(2).integers(0, 3000, size=70).astype(np.int32)
    rows, base_nll = kld.encode(base, targets)
    same = kld.summary(kld.token_stats(base, rows, targets, base_nll))
    assert abs(same["kld_mean"]) < 1e-6 and same["top1_agree"] == 1.0 and abs(same["ppl_ratio"] - 1) < 1e-12
    # llama-perplexity reads the base's NLL from the 16-bit rows, which floor a target 16 nats below the
    # top (these logits span more than that): the exact NLL kept beside them does not
    floored = kld.summary(kld.token_stats(base, rows, targets))
    assert floored["ppl_base"] < same["ppl_base"] and floored["ppl_ratio"] > 1.001
    noisy = base + _logits(70, 3000, 3, spread=0.3)
    t = kld.token_stats(noisy, rows, targets, base_nll)
    s = kld.summary(t)
    exact = kld.exact_kld(base, noisy)
    assert abs(s["kld_mean"] - exact.mean()) / exact.mean() < 1e-3  # the stored form: well within 0.1%
    assert s["kld_p99"] >= s["kld_mean"] > 0.01 and s["n_tokens"] == 70
    assert math.isclose(s["ppl_ratio"], s["ppl"] / s["ppl_base"], rel_tol=1e-9)
    assert 0 < s["top1_agree"] < 1
    assert s["kld_p99"] == np.percentile(t.kld, 99)


def test_pareto_front_keeps_what_nothing_beats():
    #            fast+far  slow+close  dominated  fastest+farthest  tie with the first
    speed = [10.0, 5.0, 4.0, 12.0, 10.0]
    dist = [0.01, 0.001, 0.002, 0.05, 0.01]
    assert kld.pareto(speed, dist) == [True, True, False, True, True]
