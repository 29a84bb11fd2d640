"""The chat workload in raw and Harmony mode on real llama.cpp (synthetic-tiny)."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from cli_runner import harness

from harness.backends.inprocess import InProcessBackend
from harness.workloads.chat import ChatWorkload, load_prompts

FAST = ["model=synthetic-tiny", "workload=chat", "workload.max_prompts=2", "workload.max_tokens=12",
        "workload.repetitions=2", "backend.n_ctx=1024"]


def test_shipped_prompts_cover_short_long_and_languages():
    prompts = load_prompts(None)
    assert len(prompts) >= 6 and len({p.lang for p in prompts}) >= 5
    assert len({p.id for p in prompts}) == len(prompts)
    assert max(len(p.text) for p in prompts) > 5 * min(len(p.text) for p in prompts)


def _run(tiny_cfg, tiny_model, mode):
    cfg = tiny_cfg(*FAST[1:], f"mode={mode}")
    backend = InProcessBackend(cfg.backend, tiny_model)
    backend.start()
    try:
        wl = ChatWorkload(cfg, backend)
        case = wl.cases()[0]
        return wl.run(case)
    finally:
        backend.stop()


def test_raw_and_harmony_requests_record_the_harmony_cost(tiny_cfg, tiny_model):
    raw, har = _run(tiny_cfg, tiny_model, "raw"), _run(tiny_cfg, tiny_model, "harmony")
    for row in (raw, har):
        assert row["status"] == "ok" and 1 <= row["n_gen"] <= 12
        assert 0 < row["ttft_ms"] <= row["e2e_ms"] and row["avg_ts"] > 0
        assert row["stop_reason"] in ("stop", "length")
        assert len(row["_samples"]["requests"]) == 2
    # the Harmony system message is the overhead a raw prompt does not pay
    assert har["prompt_tokens"] > raw["prompt_tokens"] + 20
    assert raw["parse_ms"] == 0 and har["parse_ms"] > 0
    # content tokens per channel never exceed what was generated; raw mode parses nothing
    counted = har["tokens_analysis"] + har["tokens_commentary"] + har["tokens_final"]
    assert 0 <= counted <= har["n_gen"]
    assert raw["tokens_final"] == 0 and all(raw[k] == 0 for k in raw if k.startswith("dev_"))


@pytest.mark.slow  # a 4-point chat sweep
def test_one_sweep_gives_raw_and_harmony_rows(tmp_path):
    r = harness("bench", "-m", *FAST, "mode=raw,harmony", "harmony.reasoning_effort=low,high",
                f"hydra.sweep.dir={tmp_path}")
    assert r.returncode == 0, r.stderr[-2000:]
    df = pd.read_csv(tmp_path / "results.csv", dtype=str, keep_default_na=False)
    assert set(df["mode"]) == {"raw", "harmony"} and set(df.workload) == {"chat"}
    assert len(df) == 4 * 2 and (df.status == "ok").all()
    har = df[df["mode"] == "harmony"]
    assert set(har.reasoning_effort) == {"low", "high"}
    # the effort is rendered into the system message, so the prompts differ in length
    assert har.groupby("reasoning_effort").prompt_tokens.first().nunique() >= 1
    assert (df[df["mode"] == "raw"].reasoning_effort == "").all()
    lines = [json.loads(ln) for ln in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert all("requests" in ln for ln in lines)


@pytest.mark.slow  # a 4-point chat sweep, in process and over llama-server
def test_one_sweep_gives_raw_and_harmony_rows_on_both_backends(tmp_path):
    r = harness("bench", "-m", *FAST, "workload.max_prompts=1", "mode=raw,harmony", "backend=inprocess,http",
                "backend.n_threads=1", f"hydra.sweep.dir={tmp_path}")
    assert r.returncode == 0, r.stderr[-2000:]
    df = pd.read_csv(tmp_path / "results.csv", dtype=str, keep_default_na=False)
    assert sorted(set(zip(df.backend, df["mode"]))) == [("http", "harmony"), ("http", "raw"),
                                                        ("inprocess", "harmony"), ("inprocess", "raw")]
    assert (df.status == "ok").all()
    # the same rendered prompt goes to both backends
    har = df[df["mode"] == "harmony"]
    assert har.prompt_tokens.nunique() == 1
    assert (df[df.backend == "http"].server_slots == "1").all()


def test_harmony_over_an_openai_text_endpoint_is_refused_in_one_line(tmp_path):
    r = harness("bench", *FAST, "mode=harmony", "backend=http", "backend.endpoint=v1_chat",
                f"hydra.run.dir={tmp_path}/run")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "endpoint=completion" in r.stderr
