"""Depth and the prompt cache over a real managed llama-server; the agent's per-turn cache and latency."""
from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from cli_runner import harness

TINY = ["model=synthetic-tiny", "backend.n_threads=1", "backend.n_batch=64", "backend.n_ubatch=64"]


def read(path):
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def samples(folder):
    return [json.loads(ln) for ln in (folder / "samples.jsonl").read_text().splitlines()]


@pytest.mark.slow  # synthetic-small built, 4 points in process and over llama-server
def test_depth_over_http_against_in_process_at_the_same_depth(tmp_path):
    r = harness("bench", "-m", "model=synthetic-small", "backend.n_threads=1", "backend.n_ctx=1024",
                "backend=inprocess,http", "workload.n_depth=0,512", "workload.n_prompt=32", "workload.n_gen=4",
                "workload.repetitions=2", f"hydra.sweep.dir={tmp_path}")
    assert r.returncode == 0, r.stderr[-2000:]
    df = read(tmp_path / "results.csv")
    keys = {"pp32", "tg4", "pp32 @ d512", "tg4 @ d512"}
    assert set(df[df.backend == "inprocess"].test) == keys == set(df[df.backend == "http"].test)
    assert (df.status == "ok").all() and (df.avg_ts.astype(float) > 0).all()
    assert (df[df.test.str.contains("@ d512")].n_depth == "512").all()
    http, inproc = df[df.backend == "http"], df[df.backend == "inprocess"]
    deep = http[http.n_depth == "512"]
    # the depth really was in the server's cache: every timed request reused all of it ...
    assert (deep.cache_prompt == "True").all() and (deep.cache_n.astype(float) == 512).all()
    assert (http[http.n_depth == "0"].cache_prompt == "False").all()
    assert (http[http.n_depth == "0"].cache_n.astype(float) == 0).all()
    assert (inproc.cache_prompt == "").all() and (inproc.cache_n == "").all()
    # ... and pp at depth is timed over the test's own prompt only (the server processed n_prompt tokens)
    recs = {(s["point"], s["test"]): s for s in samples(tmp_path)}
    point = int(deep.point.iloc[0])
    pp, tg = recs[(point, "pp32 @ d512")], recs[(point, "tg4 @ d512")]
    assert [t["prompt_n"] for t in pp["server_timings"]] == [32, 32]
    assert [t["cache_n"] for t in pp["server_timings"]] == [512, 512]
    assert [t["prompt_n"] for t in tg["server_timings"]] == [1, 1]
    assert [t["predicted_n"] for t in tg["server_timings"]] == [4, 4]


@pytest.mark.slow  # a 2-point sweep over llama-server
def test_cache_prompt_axis_counts_the_cached_tokens_of_a_repeated_prompt(tmp_path):
    r = harness("bench", "-m", *TINY, "backend.n_ctx=512", "backend=http", "backend.cache_prompt=false,true",
                "workload=chat", "workload.max_prompts=1", "workload.max_tokens=4", "workload.repetitions=2",
                f"hydra.sweep.dir={tmp_path}")
    assert r.returncode == 0, r.stderr[-2000:]
    df = read(tmp_path / "results.csv")
    assert (df.status == "ok").all() and sorted(df.cache_prompt) == ["False", "True"]
    off, on = (float(df[df.cache_prompt == v].cache_n.iloc[0]) for v in ("False", "True"))
    assert off == 0 and on > 0  # the same prompt again: the server reuses it only with the cache on


def test_depth_that_does_not_fit_a_slot_fails_in_one_line(tmp_path):
    r = harness("bench", *TINY, "backend=http", "backend.n_ctx=512", "backend.n_parallel=2", "workload.n_prompt=32",
                "workload.n_gen=0", "workload.n_depth=300", "workload.repetitions=1", f"hydra.run.dir={tmp_path}")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    row = read(tmp_path / "results.csv").iloc[0]
    assert row.status == "failed" and "\n" not in row.error
    assert "n_depth+n_prompt+n_gen=333 does not fit the server's slot context (server_n_ctx=256)" in row.error


@pytest.mark.slow  # two agent points over llama-server
def test_agent_turns_record_prompt_and_cached_tokens_over_the_managed_server(tmp_path):
    r = harness("bench", "-m", *TINY, "backend.n_ctx=4096", "backend=http", "backend.cache_prompt=false,true",
                "workload=agent", "workload.tasks=[py_compound_interest]", "workload.max_turns=2",
                "workload.max_tokens=16", f"hydra.sweep.dir={tmp_path}")
    assert r.returncode == 0, r.stderr[-2000:]
    df = read(tmp_path / "results.csv")
    trials = df[df.level == "trial"]
    assert sorted(trials.cache_prompt) == ["False", "True"] and (trials.turns == "2").all()
    by_point = {int(p): v for p, v in zip(trials.point, trials.cache_prompt)}
    for s in samples(tmp_path):
        turns = s["turns"]
        assert [t["prompt_tokens"] > 0 and t["ttft_ms"] > 0 for t in turns] == [True, True]
        cached = [t["cached_tokens"] for t in turns]
        if by_point[s["point"]] == "False":
            assert cached == [0, 0]
        else:  # the second turn resends the first turn's prompt: the server reuses it
            assert cached[1] > 0 and all(c < t["prompt_tokens"] for c, t in zip(cached, turns))
    off, on = trials[trials.cache_prompt == "False"].iloc[0], trials[trials.cache_prompt == "True"].iloc[0]
    assert float(off.cache_n) == 0 and float(off.cached_share) == 0
    assert float(on.cache_n) > 0 and 0 < float(on.cached_share) < 1
    assert float(on.cache_n) == pytest.approx(float(on.cached_share) * float(on.prompt_tokens))
    suite = df[df.level == "suite"]
    assert (suite.cached_share != "").all()


def test_agent_records_the_time_to_the_first_final_token_per_turn(tmp_path):
    r = harness("bench", "workload=agent", "backend=replay", "workload.tasks=[py_compound_interest]",
                f"hydra.run.dir={tmp_path}")
    assert r.returncode == 0, r.stderr[-2000:]
    df = read(tmp_path / "results.csv")
    trial = df[df.level == "trial"].iloc[0]
    assert trial.stop_reason == "final" and float(trial.ttft_final_ms) >= float(trial.ttft_ms) > 0
    assert trial.cache_n == "" and trial.cached_share == ""  # no server said what it cached
    turns = samples(tmp_path)[0]["turns"]
    finals = [t["ttft_final_ms"] for t in turns]
    assert not math.isnan(finals[-1]) and all(math.isnan(f) for f in finals[:-1])  # the answer comes last
    assert all(t["cached_tokens"] is None for t in turns)
    assert float(trial.ttft_final_ms) == pytest.approx(finals[-1])
