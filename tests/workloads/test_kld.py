"""workload=kld on real llama.cpp (synthetic-tiny): the stored base against exact float64, the row
and the cached base, the cross-check against llama-perplexity, one-line refusals."""
from __future__ import annotations

import csv
import math

import llama_cpp
import numpy as np
import pytest
from cli_runner import harness

from harness.config.plan import plan
from harness.config.validate import ConfigError
from harness.metrics import kld
from harness.models import cache
from harness.sweep import vs_llama_perplexity
from harness.workloads.kld import Scorer, _load, chunked, read_text, shipped_text, tokenize
from harness.workloads.kld_base import scored

N_CTX, CHUNKS = 128, 4  # 4 x 63 scored tokens: llama-perplexity prints its statistics from 100 on
QUANT = "Q4_0"  # synthetic-tiny's widths (64) take 32-wide blocks, not k-quants


@pytest.fixture(scope="module")
def short_text(tmp_path_factory):
    """The start of the shipped text: enough for 4 chunks of 128 tokens."""
    path = tmp_path_factory.mktemp("kld") / "short.txt"
    path.write_text(read_text(shipped_text())[:4000] + "\n")
    return path


def _logits_of(model_path, tokens, b):
    model = _load(model_path, b)
    scorer = Scorer(model, N_CTX, b, 2, "f16", "f16")
    try:
        return [(logits.copy(), nxt.copy()) for logits, nxt in scorer.chunks(tokens)]
    finally:
        scorer.close()
        llama_cpp.llama_model_free(model)


@pytest.mark.slow  # two models over 4 chunks and float64 over a 201k vocabulary
def test_stored_base_changes_the_figures_by_less_than_a_thousandth(tiny_cfg, short_text):
    cfg = tiny_cfg(f"model.quant={QUANT}", "backend.repack=false")
    base_path, quant_path = cache.prepare(tiny_cfg("backend.repack=false").model), cache.prepare(cfg.model)
    model = _load(base_path, cfg.backend)
    tokens = chunked(tokenize(model, read_text(short_text)), N_CTX, CHUNKS)
    llama_cpp.llama_model_free(model)
    assert len(tokens) == N_CTX * CHUNKS
    base, quant = _logits_of(base_path, tokens, cfg.backend), _logits_of(quant_path, tokens, cfg.backend)
    assert all(q.shape == (scored(N_CTX), 201088) for q, _ in quant)
    parts, exact, nll_base = [], [], []
    for (bl, nxt), (ql, _) in zip(base, quant, strict=True):
        rows, base_nll = kld.encode(bl, nxt)
        parts.append(kld.token_stats(ql, rows, nxt, base_nll))
        exact.append(kld.exact_kld(bl, ql))
        nll_base.append(-kld.log_softmax(bl)[np.arange(len(nxt)), nxt])
    s = kld.summary(kld.TokenStats.concat(parts))
    e = np.concatenate(exact)
    assert s["kld_mean"] > 1e-4  # the quant differs from F16 measurably
    assert abs(s["kld_mean"] - e.mean()) / e.mean() < 1e-3
    assert abs(s["kld_p99"] - np.percentile(e, 99)) / np.percentile(e, 99) < 1e-3
    assert math.isclose(s["ppl_base"], math.exp(np.concatenate(nll_base).mean()), rel_tol=1e-9)


def _logs(run):
    return "".join(p.read_text(errors="replace") for p in run.rglob("llama.log"))


def _row(run):
    with open(run / "results.csv") as f:
        return next(csv.DictReader(f))


@pytest.mark.slow  # two in-process runs (the first computes the base)
def test_kld_row_and_the_base_computed_once(tmp_path, short_text):
    args = ["bench", "model=synthetic-tiny", f"model.quant={QUANT}", "workload=kld", f"workload.text={short_text}",
            f"workload.n_ctx={N_CTX}", f"workload.chunks={CHUNKS}", "backend.repack=false"]
    first = harness(*args, f"hydra.run.dir={tmp_path / 'a'}")
    assert first.returncode == 0, first.stderr[-2000:]
    assert "kld: computing the base" in _logs(tmp_path / "a")  # the worker's log (llama.log of the point)
    row = _row(tmp_path / "a")
    assert row["status"] == "ok" and row["workload"] == "kld" and row["test"] == f"kld:short c{N_CTX} x{CHUNKS}"
    assert int(row["n_tokens"]) == CHUNKS * scored(N_CTX) and row["n_ctx"] == str(N_CTX)
    kld_mean, p99, top1 = float(row["kld_mean"]), float(row["kld_p99"]), float(row["top1_agree"])
    assert 0 < kld_mean < p99 and 0 < top1 < 1
    assert math.isclose(float(row["ppl_ratio"]), float(row["ppl"]) / float(row["ppl_base"]), rel_tol=1e-9)
    files = sorted((cache.vocab.cache_root() / "models" / "kld").glob("synthetic-tiny-F16-c128-*"))
    stored = [f for f in files if f.suffix == ".kld-base"]
    assert len(stored) == 1 and stored[0].with_name(stored[0].name + ".nll.npy").is_file()
    mtime = stored[0].stat().st_mtime_ns
    again = harness(*args, f"hydra.run.dir={tmp_path / 'b'}")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "kld: computing the base" not in _logs(tmp_path / "b") and stored[0].stat().st_mtime_ns == mtime
    assert _row(tmp_path / "b")["kld_mean"] == row["kld_mean"]  # deterministic, from the same stored base


@pytest.mark.slow  # llama-perplexity writes its base and reads it for two quants; the harness runs both
def test_means_agree_with_llama_perplexity_within_one_percent(tiny_cfg, short_text, tmp_path):
    points = [tiny_cfg(f"model.quant={q}", "workload=kld", f"workload.text={short_text}", f"workload.n_ctx={N_CTX}",
                       f"workload.chunks={CHUNKS}", "backend.repack=false", "backend.n_threads=2")
              for q in (QUANT, "MXFP4_MOE")]
    exe = vs_llama_perplexity.binary(None)
    results = vs_llama_perplexity.compare(points, exe, repack=False, log=lambda m: None)
    for r in results:
        ours, theirs = r["ours"], r["theirs"]
        assert r["same_tokens"], r["quant"]
        assert ours["n_tokens"] == CHUNKS * scored(N_CTX)
        assert abs(vs_llama_perplexity.rel_diff(ours["kld_mean"], theirs["kld_mean"])) < 0.01, r
        assert theirs["kld_mean"] > 1e-4  # well above llama-perplexity's printed resolution (1e-6)
        assert abs(vs_llama_perplexity.rel_diff(ours["kld_p99"], theirs["kld_p99"])) < 0.02, r
        assert abs(ours["top1_agree"] - theirs["top1_agree"]) <= 0.02, r
        assert abs(ours["ppl_ratio"] - theirs["ppl_ratio"]) < 1e-4, r
    assert results[0]["ours"]["kld_mean"] != results[1]["ours"]["kld_mean"]
    table = vs_llama_perplexity.markdown(results)
    assert table.count("\n") == 3 and "| MXFP4_MOE |" in table
    assert vs_llama_perplexity.agrees(1.04e-5, 1e-5, 0.01) and not vs_llama_perplexity.agrees(2e-4, 1.9e-4, 0.01)


def test_kld_refuses_what_it_cannot_measure_in_one_line(tmp_path):
    with pytest.raises(ConfigError, match=r"workload=kld with backend.type=http is not supported"):
        plan(["model=synthetic-tiny", "workload=kld", "backend=http"], False)
    with pytest.raises(ConfigError, match=r"workload.n_ctx=8 is out of range; it must be >= 16"):
        plan(["model=synthetic-tiny", "workload=kld", "workload.n_ctx=8"], False)
    with pytest.raises(ConfigError, match=r"workload.base_quant='F17' is not allowed"):
        plan(["model=synthetic-tiny", "workload=kld", "workload.base_quant=F17"], False)
    r = harness("bench", "model=synthetic-tiny", "workload=kld", f"workload.text={tmp_path / 'none.txt'}")
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert f"workload.text={tmp_path / 'none.txt'} does not exist" in r.stderr and "Traceback" not in r.stderr


def test_a_text_too_short_for_two_chunks_is_named():
    with pytest.raises(ValueError, match=r"tokenizes to 300 tokens; workload.n_ctx=512 needs at least 1024"):
        chunked(np.zeros(300, dtype=np.int32), 512, 0)
    assert len(chunked(np.zeros(1300, dtype=np.int32), 512, 0)) == 1024
    assert len(chunked(np.zeros(5000, dtype=np.int32), 512, 3)) == 1536
