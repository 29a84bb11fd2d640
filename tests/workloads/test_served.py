"""pp/tg and concurrent load through a real managed llama-server on synthetic-tiny."""
from __future__ import annotations

import os

import pandas as pd
import psutil
import pytest
from cli_runner import harness

TINY = ["model=synthetic-tiny", "backend.n_threads=1", "backend.n_ctx=256", "backend.n_batch=32",
        "backend.n_ubatch=32"]


def read(path):
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def no_server_left():
    """No llama-server serves a model of this session's cache (HARNESS_CACHE, private to the session):
    servers of other users or sessions on this machine are not ours to count."""
    cache = os.environ["HARNESS_CACHE"]
    return not [p for p in psutil.process_iter(["name", "cmdline"]) if "llama-server" in (p.info["name"] or "")
                and any(cache in arg for arg in p.info["cmdline"] or [])]


@pytest.mark.slow  # a 2-point sweep, in process and over llama-server
def test_pp_tg_in_process_and_served_side_by_side(tmp_path):
    r = harness("bench", "-m", *TINY, "backend=inprocess,http", "workload.n_prompt=32", "workload.n_gen=8",
                "workload.repetitions=2", f"hydra.sweep.dir={tmp_path}")
    assert r.returncode == 0, r.stderr[-2000:]
    df = read(tmp_path / "results.csv")
    assert sorted(zip(df.backend, df.test)) == [("http", "pp32"), ("http", "tg8"), ("inprocess", "pp32"),
                                                ("inprocess", "tg8")]
    assert (df.status == "ok").all() and (df.avg_ts.astype(float) > 0).all()
    served = df[df.backend == "http"]
    assert (served.server_prompt_ts != "").all() and (served.server_predicted_ts != "").all()
    assert float(served[served.test == "tg8"].server_predicted_ts.iloc[0]) > 0
    assert (df[df.backend == "inprocess"].server_predicted_ts == "").all()
    assert no_server_left()


def test_depth_over_http_without_the_prompt_cache_is_unsupported_in_one_line(tmp_path):
    r = harness("bench", *TINY, "backend=http", "backend.cache_prompt=false", "workload.n_prompt=16",
                "workload.n_gen=0", "workload.n_depth=16", "workload.repetitions=1", f"hydra.run.dir={tmp_path}")
    df = read(tmp_path / "results.csv")
    assert r.returncode == 0 and (df.status == "unsupported").all()
    assert df.error.str.contains("n_depth=16 over a server needs its prompt cache").all()
    assert (df.cache_prompt == "False").all()


def test_load_reports_throughput_and_percentiles_with_np_following_concurrency(tmp_path):
    r = harness("bench", *TINY, "backend=http", "workload=load", "workload.concurrency=2",
                "workload.num_requests=6", "workload.max_tokens=8", "workload.max_prompts=3",
                f"hydra.run.dir={tmp_path}")
    assert r.returncode == 0, r.stderr[-2000:]
    row = read(tmp_path / "results.csv").iloc[0]
    assert row.status == "ok" and row.test == "load c2" and row.concurrency == "2"
    assert row.completed_requests == "6" and row.failed_requests == "0"
    assert float(row.request_throughput) > 0 and float(row.output_ts) > 0
    assert float(row.ttft_p50_ms) <= float(row.e2e_p50_ms)
    assert row.server_slots == "2"  # llama-server -np followed workload.concurrency
    assert no_server_left()


def test_load_in_process_is_refused_in_one_line(tmp_path):
    r = harness("bench", *TINY, "workload=load", f"hydra.run.dir={tmp_path}/run")
    assert r.returncode == 2 and "backend=http" in r.stderr and r.stderr.count("\n") == 1


@pytest.mark.slow  # a 2-point sweep over llama-server
def test_a_server_that_cannot_start_fails_its_point_with_the_log_tail_and_the_sweep_goes_on(tmp_path):
    r = harness("bench", "-m", *TINY, "backend=http", "backend.flash_attn=off", "backend.type_v=q8_0,f16",
                "workload.n_prompt=16", "workload.n_gen=4", "workload.repetitions=1", f"hydra.sweep.dir={tmp_path}")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    df = read(tmp_path / "results.csv")
    bad, good = df[df.type_v == "q8_0"], df[df.type_v == "f16"]
    assert (bad.status == "failed").all() and (bad.server_log_tail != "").all()
    assert (good.status == "ok").all()
    assert list(tmp_path.glob("jobs/*/llama-server*.log")) or list(tmp_path.glob("jobs/*/*.log"))
    assert no_server_left()
