"""History: a point's metric over runs (harness history) and the gate against the last N runs'
distribution (a one-sided t prediction limit plus the threshold), on hand-made run folders."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from cli_runner import harness

from harness.gate.history import history_checks, load_runs
from harness.metrics.stats import prediction_interval, prediction_p

HISTORY = [100.0, 101.5, 99.0, 100.8, 98.9, 100.2]  # pp t/s of six earlier runs


def write_run(folder: Path, n: int, pp: float, tg: float, success: float = 1.0) -> Path:
    """A run folder: a pp and a tg row, an agent suite (one task) and the time and commit of run n."""
    common = {"model_name": "m", "quant": "Q8_0", "status": "ok", "harness_commit": f"c{n:03d}",
              "test_time": f"2026-11-{1 + n:02d}T10:00:00Z"}
    rows = [{**common, "workload": "pp_tg", "test": "pp64", "avg_ts": str(pp)},
            {**common, "workload": "pp_tg", "test": "tg16", "avg_ts": str(tg)},
            {**common, "workload": "agent", "test": "task", "level": "task", "trials": "1", "infra_errors": "0",
             "success": str(success), "avg_ts": ""},
            {**common, "workload": "agent", "test": "suite", "level": "suite", "trials": "1", "infra_errors": "0",
             "success": str(success), "avg_ts": ""}]
    folder.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(folder / "results.csv", index=False)
    return folder


@pytest.fixture
def history(tmp_path):
    # written newest first: the order comes from test_time, not from the folder names
    for n in reversed(range(len(HISTORY))):
        write_run(tmp_path / "runs" / f"run-{9 - n}", n, HISTORY[n], 50.0 + n % 2)
    return tmp_path / "runs"


def test_prediction_limits_widen_for_few_runs():
    lo5, hi5 = prediction_interval(HISTORY[:3], 0.05)
    lo6, hi6 = prediction_interval(HISTORY, 0.05)
    assert lo5 < lo6 < sum(HISTORY) / 6 < hi6 < hi5
    assert prediction_p(HISTORY, lo6) == pytest.approx(0.05)
    assert prediction_p([5.0, 5.0, 5.0], 4.9) == 0.0 and prediction_p([5.0, 5.0, 5.0], 5.0) == 1.0


def test_the_runs_are_ordered_by_time_and_a_drop_beyond_the_band_is_a_regression(history, tmp_path):
    runs = load_runs([history])
    assert [r.commit for r in runs] == [f"c{n:03d}" for n in range(len(HISTORY))]
    drop = pd.read_csv(write_run(tmp_path / "drop", 9, 90.0, 50.4, success=0.0) / "results.csv", dtype=str,
                       keep_default_na=False)
    drop["_samples"] = [{} for _ in range(len(drop))]
    v = {(c.point.split("test=")[1], c.metric): c.verdict
         for c in history_checks(runs, drop, "avg_ts", 5, 0.01, {"avg_ts": 0.05})}
    assert v == {("pp64", "avg_ts"): "regression", ("tg16", "avg_ts"): "unchanged",
                 ("task", "success"): "regression", ("suite", "success"): "regression"}


def test_cli_history_gate(history, tmp_path):
    ok = write_run(tmp_path / "ok", 9, 100.3, 50.6)
    slow = write_run(tmp_path / "slow", 9, 88.0, 50.6)
    r = harness("gate", "--history", str(history), "--window", "5", "--current", str(ok))
    assert r.returncode == 0 and "gate: pass" in r.stdout, r.stdout + r.stderr
    r = harness("gate", "--history", str(history), "--window", "5", "--current", str(slow), "--alpha", "0.01")
    assert r.returncode == 1 and "| regression |" in r.stdout, r.stdout + r.stderr
    # the window holds 3 or more runs; a history too short to judge anything cannot pass
    r = harness("gate", "--history", str(history), "--window", "2", "--current", str(ok))
    assert r.returncode == 2 and "--window 2" in r.stderr and "Traceback" not in r.stderr
    short = tmp_path / "short"
    short.mkdir()
    (history / "run-9").rename(short / "run-9")
    r = harness("gate", "--history", str(short), "--current", str(ok))
    assert r.returncode == 2 and "nothing was judged" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_cli_history_writes_the_figure_and_the_table(history, tmp_path):
    out = tmp_path / "out"
    r = harness("history", str(history), "--window", "3", "--out", str(out))
    assert r.returncode == 0, r.stderr
    md = (out / "history.md").read_text()
    lines = md.splitlines()
    assert len(lines) == 2 + len(HISTORY) + 1  # header, rule, a row per run, the band for the next run
    assert "pp64 [avg_ts]" in lines[0] and "suite [success]" in lines[0]
    assert "c000" in lines[2] and "c005" in lines[-2] and lines[-1].startswith("| band for the next run (last 3")
    assert (out / "history.png").stat().st_size > 10_000
    bad = harness("history", str(tmp_path / "nowhere"))
    assert bad.returncode == 2 and "nowhere" in bad.stderr and "Traceback" not in bad.stderr
