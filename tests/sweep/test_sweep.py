"""Whole sweeps through the `harness` CLI on synthetic-tiny with real llama.cpp."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from cli_runner import harness, harness_killed_after

from harness.records.schema import COLUMNS, NAMES

FAST = ["model=synthetic-tiny", "workload.n_prompt=32", "workload.n_gen=4", "workload.repetitions=2",
        "backend.n_ctx=256", "backend.n_ubatch=8"]
MAY_BE_EMPTY = {"error", "gpu_info", "cpu_mhz_start", "cpu_mhz_end"} | {c.name for c in COLUMNS if c.only}  # pp_tg raw
# (the CPU frequency is unreadable in some VMs)


def read(csv: Path) -> pd.DataFrame:
    return pd.read_csv(csv, dtype=str, keep_default_na=False)


@pytest.mark.slow  # a 4-point sweep (shared with tests/report)
def test_2x2_multirun_merges_4_points_with_every_column_filled(sweep_2x2):
    r, tmp_path = sweep_2x2  # bench -m model.quant=F16,Q8_0 backend.n_batch=16,32 (tests/conftest.py)
    assert r.returncode == 0, r.stderr[-2000:]
    df = read(tmp_path / "results.csv")
    assert list(df.columns) == list(NAMES)
    assert len(df) == 8 and df["point"].nunique() == 4 and set(df["test"]) == {"pp32", "tg4"}
    assert set(df["status"]) == {"ok"}
    for col in NAMES:
        if col not in MAY_BE_EMPTY:
            assert (df[col] != "").all(), col
    assert sorted(set(zip(df.quant, df.n_batch))) == [("F16", "16"), ("F16", "32"), ("Q8_0", "16"), ("Q8_0", "32")]
    assert (df.accel == "cpu").all() and (df.run_id == tmp_path.name).all()
    # the model is loaded once per quant and reused across the batch sizes
    assert sorted(df.drop_duplicates("point").model_reused) == ["False", "False", "True", "True"]
    samples = [json.loads(ln) for ln in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 8 and all(len(s["samples_ns"]) == 2 for s in samples)
    env = json.loads((tmp_path / "env.json").read_text())
    assert env["accel"] == "cpu" and "CPU" in env["system_info"]
    assert "| pp32 |" in r.stdout and "± " in r.stdout  # the llama-bench-like table


@pytest.mark.slow  # a 2-point sweep
def test_a_failing_point_does_not_stop_the_sweep_and_the_exit_is_nonzero(tmp_path):
    r = harness("bench", "-m", *FAST, "backend.flash_attn=off", "backend.type_v=q8_0,f16",
                f"hydra.sweep.dir={tmp_path}")
    assert r.returncode == 1
    df = read(tmp_path / "results.csv")
    bad, good = df[df.type_v == "q8_0"], df[df.type_v == "f16"]
    assert (bad.status == "failed").all() and bad.error.str.contains("flash_attn").all()
    assert (good.status == "ok").all() and len(good) == 2
    assert "Traceback" not in r.stderr


@pytest.mark.slow  # a 6-point sweep, killed mid-way
def test_an_interrupted_sweep_keeps_its_finished_points(tmp_path):
    harness_killed_after(tmp_path / "jobs" / "1" / "results.csv", "bench", "-m", *FAST, "workload.n_gen=48",
                         "workload.repetitions=3", "backend.n_batch=8,16,24,32,40,48", f"hydra.sweep.dir={tmp_path}")
    finished = sorted(tmp_path.glob("jobs/*/results.csv"))
    assert 2 <= len(finished) < 6
    for csv in finished:
        df = read(csv)
        assert len(df) == 2 and (df.status == "ok").all() and (df.avg_ts != "").all()
    assert not (tmp_path / "results.csv").exists()  # killed before the merge, rows still there
