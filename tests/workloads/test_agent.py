"""workload=agent through `harness bench`: the reference policy scores 100% in process and over real
HTTP; a random model (synthetic-tiny) runs the whole suite cleanly and scores near 0."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from cli_runner import harness

from harness.tasks.suite import load_suite

N_TASKS = len(load_suite())


def _rows(run_dir):
    return pd.read_csv(run_dir / "results.csv")


# replay_http: the same suite over a real HTTP replay server, twice as long: make test-slow
@pytest.mark.parametrize("backend", ["replay", pytest.param("replay_http", marks=pytest.mark.slow)])
def test_reference_policy_scores_100_percent(tmp_path, backend):
    r = harness("bench", "workload=agent", f"backend={backend}", "workload.trials=2", f"hydra.run.dir={tmp_path}")
    assert r.returncode == 0, r.stderr[-2000:]
    df = _rows(tmp_path)
    trials, tasks, suite = (df[df.level == lv] for lv in ("trial", "task", "suite"))
    assert N_TASKS >= 30 and len(trials) == 2 * N_TASKS and len(tasks) == N_TASKS and len(suite) == 1
    assert (trials.success == 1).all(), trials[trials.success < 1][["test", "verdict"]].to_string()
    assert set(trials.verdict) == {"pass"} and set(trials.stop_reason) == {"final"}
    s = suite.iloc[0]
    assert s.success == s.pass_at_1 == s.pass_at_k == s.pass_hat_k == 1.0 and s.trials == 2
    assert s.valid_call_rate == 1.0 and s.infra_errors == 0 and s.tool_calls == trials.tool_calls.sum()
    # the references carry one bare recipient and one function call on analysis, on purpose
    assert s.dev_recipient_without_prefix == 2 and s.dev_tool_call_on_analysis == 2
    assert (trials.model_ms > 0).all() and (trials.e2e_ms >= trials.model_ms).all()
    # the python tool's containment in force, on the rows of tasks that offer python only
    with_python = trials[trials.task_id.str.startswith("py_")]
    assert len(with_python) and with_python.python_containment.str.startswith("fs+").all()
    assert set(trials[trials.python_containment.isna() | (trials.python_containment == "")].task_id) >= {"ui_create_logs"}
    samples = [json.loads(ln) for ln in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 2 * N_TASKS and all(s["verdicts"] and s["turns"] for s in samples)


@pytest.mark.slow  # the whole task suite on synthetic-tiny
def test_random_model_runs_the_whole_suite(tmp_path):
    r = harness("bench", "workload=agent", "model=synthetic-tiny", "backend.n_ctx=4096", "backend.n_threads=1",
                "workload.max_turns=1", "workload.max_tokens=24", f"hydra.run.dir={tmp_path}")
    assert r.returncode == 0, r.stderr[-2000:]
    df = _rows(tmp_path)
    trials, suite = df[df.level == "trial"], df[df.level == "suite"].iloc[0]
    assert len(trials) == N_TASKS and (trials.status == "ok").all() and suite.infra_errors == 0
    assert set(trials.stop_reason) <= {"final", "max_turns"} and (trials.turns == 1).all()
    assert suite.success <= 0.1  # the floor: a random model solves (almost) nothing
    deviations = sum(suite[c] for c in df.columns if c.startswith("dev_"))
    assert deviations >= N_TASKS // 2  # and strays from the format, counted


@pytest.mark.parametrize("overrides, expected", [
    (["workload=agent", "mode=raw"], "workload=agent with mode=raw is not supported"),
    (["workload=agent", "workload.tasks=[no_such_task]"], "unknown task id 'no_such_task'"),
    (["workload=agent", "workload.trials=0"], "workload.trials"),
    (["backend=replay"], "use it with workload=agent"),
])
def test_bad_agent_configs_fail_in_one_line(overrides, expected, tmp_path):
    r = harness("bench", *overrides, f"hydra.run.dir={tmp_path}")
    assert r.returncode == 2 and expected in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_task_filter_and_pass_at_k_over_trials(tmp_path):
    r = harness("bench", "workload=agent", "backend=replay", "workload.trials=3",
                "workload.tasks=[py_prime_sum,ui_create_logs]", f"hydra.run.dir={tmp_path}")
    assert r.returncode == 0, r.stderr[-2000:]
    df = _rows(tmp_path)
    assert sorted(df[df.level == "task"].task_id) == ["py_prime_sum", "ui_create_logs"]
    assert len(df[df.level == "trial"]) == 6 and df[df.level == "suite"].iloc[0].pass_at_k == 1.0
