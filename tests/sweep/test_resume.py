"""`harness bench ... resume=RUN_DIR` on real llama.cpp (synthetic-tiny): finished points are skipped by
their configuration, failed and unfinished ones run again, and the merge has every point once."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from cli_runner import harness, harness_killed_after

FAST = ["model=synthetic-tiny", "workload.n_prompt=32", "workload.n_gen=4", "workload.repetitions=2",
        "backend.n_ctx=256", "backend.n_ubatch=8"]


def read(run: Path) -> pd.DataFrame:
    return pd.read_csv(run / "results.csv", dtype=str, keep_default_na=False)


@pytest.mark.slow  # three sweeps, in process and over llama-server
def test_resume_skips_finished_points_by_configuration_and_reruns_failed_ones(tmp_path):
    run = tmp_path / "run"
    # the http point fails (no llama-server there); the in-process one finishes
    first = harness("bench", "-m", *FAST, "backend=inprocess,http", f"hydra.sweep.dir={run}",
                    env={"LLAMA_SERVER": str(tmp_path / "no-such-llama-server")})
    assert first.returncode == 1
    assert sorted(read(run).status) == ["failed", "failed", "ok", "ok"]
    before = (run / "jobs" / "0" / "results.csv").read_bytes()
    # resumed with a wider sweep in another order (Q8_0 first): job numbers no longer match
    again = harness("bench", *FAST, "model.quant=Q8_0,F16", "backend=inprocess,http", f"resume={run}")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resume: 1 of 4 points already finished" in again.stderr
    assert again.stderr.count("[resume] ") == 1 and "already finished in " + str(run / "jobs" / "0") in again.stderr
    df = read(run)
    assert len(df) == 8 and set(df.status) == {"ok"}
    points = df.drop_duplicates("point")
    assert sorted(zip(points.quant, points.backend)) == [("F16", "http"), ("F16", "inprocess"),
                                                         ("Q8_0", "http"), ("Q8_0", "inprocess")]
    assert (run / "jobs" / "0" / "results.csv").read_bytes() == before  # a finished shard is never rewritten
    assert (run / "jobs" / "1" / "results.csv").exists()  # the failed attempt stays on disk, superseded
    # new jobs are numbered after the old ones; the skipped point left no empty job folder
    jobs = sorted(int(p.name) for p in (run / "jobs").iterdir())
    assert jobs[:2] == [0, 1] and len(jobs) == 5 and set(jobs[2:]) < {2, 3, 4, 5}
    samples = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    assert sorted((s["point"], s["test"]) for s in samples) == sorted(
        (int(p), t) for p, t in zip(df.point, df.test))
    assert (run / "report.md").exists()
    # everything finished: a third resume runs nothing and changes nothing
    third = harness("bench", "-m", *FAST, "model.quant=Q8_0,F16", "backend=inprocess,http", f"resume={run}")
    assert third.returncode == 0 and "running 0" in third.stderr
    assert read(run).equals(df)


@pytest.mark.slow  # a 3-point sweep killed, then resumed
def test_resume_after_a_kill_runs_only_the_unfinished_points(tmp_path):
    run = tmp_path / "run"
    sweep = [*FAST, "workload.n_gen=32", "backend.n_batch=8,16,24"]
    harness_killed_after(run / "jobs" / "1" / "results.csv", "bench", "-m", *sweep, f"hydra.sweep.dir={run}")
    done = len(list(run.glob("jobs/*/results.csv")))
    assert done == 2
    r = harness("bench", "-m", *sweep, f"resume={run}")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "resume: 2 of 3 points already finished" in r.stderr and "running 1 " in r.stderr
    df = read(run)
    assert len(df) == 6 and set(df.status) == {"ok"}
    assert sorted(df.drop_duplicates("point").n_batch, key=int) == ["8", "16", "24"]


def test_resume_refuses_a_missing_folder_or_a_single_run_in_one_line(tmp_path, tiny_run):
    missing = harness("bench", *FAST, f"resume={tmp_path / 'nope'}")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "no such folder" in missing.stderr and "Traceback" not in missing.stderr
    assert not (tmp_path / "nope").exists()
    done, single = tiny_run  # bench of FAST, a single run (tests/conftest.py)
    assert done.returncode == 0, done.stderr[-2000:]
    r = harness("bench", *FAST, f"resume={single}")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "single run" in r.stderr
    clash = harness("bench", *FAST, f"resume={tmp_path}", f"hydra.sweep.dir={tmp_path / 'other'}")
    assert clash.returncode == 2 and "hydra.sweep.dir" in clash.stderr and clash.stderr.count("\n") == 1


@pytest.mark.slow  # a sweep, then a second one into its folder
def test_a_new_sweep_into_a_folder_that_holds_one_is_refused(tmp_path):
    assert harness("bench", "-m", *FAST, f"hydra.sweep.dir={tmp_path}").returncode == 0
    before = (tmp_path / "results.csv").read_bytes()
    again = harness("bench", "-m", *FAST, "backend.n_batch=16", f"hydra.sweep.dir={tmp_path}")
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and f"resume={tmp_path}" in again.stderr
    assert (tmp_path / "results.csv").read_bytes() == before and len(list(tmp_path.glob("jobs/*"))) == 1
