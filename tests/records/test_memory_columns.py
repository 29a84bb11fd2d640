"""Memory per point: the mem_* columns filled from llama.cpp's load log on synthetic-small, in-process
and over the managed llama-server; the fit check that refuses a point before it loads."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
from cli_runner import harness

from harness.config.plan import plan
from harness.models import cache
from harness.sweep import fit

SMALL = ["model=synthetic-small", "workload.n_prompt=16", "workload.n_gen=2", "workload.repetitions=1",
         "workload.warmup=false", "backend.n_ctx=1024", "backend.n_threads=1"]


def _rows(run: Path) -> list[dict[str, str]]:
    with open(run / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_memory_columns_on_synthetic_small_inprocess_and_http(tmp_path):
    out = harness("bench", "-m", *SMALL, "backend=inprocess,http", f"hydra.sweep.dir={tmp_path}")
    assert out.returncode == 0, out.stderr[-2000:]
    rows = _rows(tmp_path)
    assert {r["backend"] for r in rows} == {"inprocess", "http"} and all(r["status"] == "ok" for r in rows)
    gguf = Path(rows[0]["model_path"]).stat().st_size / 2**20
    by_backend = {r["backend"]: r for r in rows}
    for r in by_backend.values():
        model, kv, compute = (float(r[c]) for c in ("mem_model_mb", "mem_kv_mb", "mem_compute_mb"))
        assert 0.8 * gguf < model <= gguf  # the weights, without the GGUF's header and vocabulary
        assert 0 < kv < 64 and compute > 0
        assert "model=" in r["mem_by_buft"] and "kv=" in r["mem_by_buft"] and "compute=" in r["mem_by_buft"]
        assert r["gpu_mem_used_mb"] == ""  # no NVIDIA GPU (or no nvidia-ml-py) here: empty, not an error
    assert by_backend["inprocess"]["mem_model_mb"] == by_backend["http"]["mem_model_mb"]
    assert by_backend["inprocess"]["mem_kv_mb"] == by_backend["http"]["mem_kv_mb"]  # same n_ctx, same caches
    report = (tmp_path / "report.md").read_text()
    assert "### Memory per configuration" in report and (tmp_path / "figures" / "memory.png").is_file()


def test_need_grows_with_n_ctx_and_the_full_swa_cache(tiny_cfg, tiny_model):
    small = fit.need_mb(tiny_cfg("backend.n_ctx=4096").backend, tiny_model, split_gpu=False)[0]
    huge = fit.need_mb(tiny_cfg("backend.n_ctx=1048576").backend, tiny_model, split_gpu=False)[0]
    full = fit.need_mb(tiny_cfg("backend.n_ctx=1048576", "backend.swa_full=true").backend, tiny_model,
                       split_gpu=False)[0]
    assert tiny_model.stat().st_size / 2**20 < small < huge < full
    host, gpu = fit.need_mb(tiny_cfg("backend.n_ctx=4096", 'backend.tensor_buft_overrides="exps=CPU"').backend,
                            tiny_model, split_gpu=True)
    assert 0 < host < small and gpu > 0 and abs(host + gpu - small) < 0.01  # experts on the host, the rest on GPU


def test_a_point_that_cannot_fit_fails_in_one_line(tmp_path, monkeypatch):
    cfg = plan(["model=synthetic-tiny"], multirun=False)[0]
    path = cache.prepare(cfg.model)
    monkeypatch.setenv(fit.AVAILABLE_ENV, "10")
    with pytest.raises(fit.FitError) as e:
        fit.check(cfg.backend, path, "cpu")
    assert "needs about" in str(e.value) and "backend.fit_check=false" in str(e.value) and "\n" not in str(e.value)
    monkeypatch.setenv(fit.AVAILABLE_ENV, "100000")
    fit.check(cfg.backend, path, "cpu")


@pytest.mark.slow
def test_fit_check_in_a_run_and_turned_off(tmp_path):
    tiny = ["model=synthetic-tiny", "workload.n_prompt=8", "workload.n_gen=2", "workload.repetitions=1",
            "backend.n_ctx=128", "backend.n_threads=1"]
    refused = harness("bench", *tiny, f"hydra.run.dir={tmp_path / 'a'}", env={fit.AVAILABLE_ENV: "1"})
    rows = _rows(tmp_path / "a")
    assert refused.returncode == 1 and {r["status"] for r in rows} == {"failed"}
    assert all(r["error"].startswith("FitError: synthetic-tiny-F16.gguf with n_ctx=128 needs about") for r in rows)
    forced = harness("bench", *tiny, "backend.fit_check=false", f"hydra.run.dir={tmp_path / 'b'}",
                     env={fit.AVAILABLE_ENV: "1"})
    assert forced.returncode == 0 and {r["status"] for r in _rows(tmp_path / "b")} == {"ok"}
