"""Quality in the gate: agent success (Fisher's exact test on the counts), pass^k, mean KLD and the
success floor, on hand-made rows and through `harness gate`; a broken replay policy fails the floor."""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from cli_runner import harness

from harness.gate.quality import agent_checks, floor_checks, kld_checks
from harness.metrics.stats import fisher_drop

SUITE = Path(__file__).resolve().parents[2] / "harness" / "tasks" / "data" / "suite"


def agent_rows(passed: dict[str, int], trials: int) -> list[dict[str, str]]:
    """Task rows (success = passed / trials) and the suite row, as an agent run writes them."""
    rows = [{"workload": "agent", "model_name": "m", "quant": "Q8_0", "test": t, "level": "task", "status": "ok",
             "trials": str(trials), "infra_errors": "0", "success": str(c / trials)} for t, c in passed.items()]
    mean = sum(passed.values()) / trials / len(passed)
    return [*rows, {"workload": "agent", "model_name": "m", "quant": "Q8_0", "test": "suite", "level": "suite",
                    "status": "ok", "trials": str(trials), "infra_errors": "0", "success": str(mean)}]


def kld_rows(values: dict[str, float]) -> list[dict[str, str]]:
    return [{"workload": "kld", "model_name": "m", "quant": q, "test": "kld", "status": "ok", "kld_mean": str(v),
             "kld_p99": str(4 * v), "top1_agree": "0.9", "ppl_ratio": "1.01"} for q, v in values.items()]


def by_point(checks):
    return {(c.point.split("test=")[1].split()[0], c.metric): c.verdict for c in checks}


def test_fisher_drop_is_the_one_sided_exact_tail():
    assert fisher_drop(5, 5, 1, 5) == pytest.approx(6 / 252)  # hypergeometric: 6 of C(10,5) tables as extreme
    assert fisher_drop(1, 1, 0, 1) == pytest.approx(0.5)       # one trial each can never be significant
    assert fisher_drop(3, 5, 5, 5) == pytest.approx(1.0)       # a rise is no drop


def test_a_significant_drop_of_success_or_pass_hat_k_is_a_regression():
    tasks = [f"t{i}" for i in range(10)]
    base = pd.DataFrame(agent_rows({t: 5 for t in tasks}, 5))
    cur = pd.DataFrame(agent_rows({t: (1 if i < 5 else 5) for i, t in enumerate(tasks)}, 5))
    v = by_point(agent_checks(base, cur, alpha=0.05))
    assert v[("t0", "success")] == "regression" and v[("t9", "success")] == "unchanged"
    assert v[("suite", "success")] == "regression" and v[("suite", "pass_hat_k")] == "regression"
    assert set(by_point(agent_checks(base, base, alpha=0.05)).values()) == {"unchanged"}
    # the other way round it is an improvement; one task lost of ten at one trial each is not significant
    assert by_point(agent_checks(cur, base, alpha=0.05))[("suite", "success")] == "improvement"
    one = by_point(agent_checks(pd.DataFrame(agent_rows({t: 1 for t in tasks}, 1)),
                                pd.DataFrame(agent_rows({t: int(t != "t0") for t in tasks}, 1)), alpha=0.05))
    assert one[("t0", "success")] == one[("suite", "success")] == "unchanged" and ("suite", "pass_hat_k") not in one


def test_mean_kld_rising_beyond_the_threshold_fails():
    base = pd.DataFrame(kld_rows({"F16": 0.0, "Q8_0": 0.010, "Q4_K_M": 0.050, "MXFP4_MOE": 0.080}))
    cur = pd.DataFrame(kld_rows({"F16": 0.0002, "Q8_0": 0.0105, "Q4_K_M": 0.070, "MXFP4_MOE": 0.040}))
    v = {c.point.split("quant=")[1].split()[0]: c.verdict for c in kld_checks(base, cur, threshold=0.10)}
    assert v == {"F16": "unchanged", "Q8_0": "unchanged", "Q4_K_M": "regression", "MXFP4_MOE": "improvement"}


def test_the_floor_fails_a_suite_below_it():
    perfect = pd.DataFrame(agent_rows({"a": 1, "b": 1}, 1))
    broken = pd.DataFrame(agent_rows({"a": 1, "b": 0}, 1))
    assert [c.verdict for c in floor_checks(perfect, 1.0)] == ["unchanged"]
    assert [c.verdict for c in floor_checks(broken, 1.0)] == ["regression"]
    assert [c.verdict for c in floor_checks(broken, 0.5)] == ["unchanged"]


def _write(run: Path, rows: list[dict[str, str]]) -> Path:
    run.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(run / "results.csv", index=False)
    return run


def test_cli_gates_quality_like_speed(tmp_path):
    tasks = {f"t{i}": 3 for i in range(8)}
    base = _write(tmp_path / "base", agent_rows(tasks, 3) + kld_rows({"Q8_0": 0.01, "Q4_K_M": 0.05}))
    worse_kld = _write(tmp_path / "kld", agent_rows(tasks, 3) + kld_rows({"Q8_0": 0.01, "Q4_K_M": 0.08}))
    worse_agent = _write(tmp_path / "agent", agent_rows({t: 0 for t in tasks}, 3)
                         + kld_rows({"Q8_0": 0.01, "Q4_K_M": 0.05}))
    same = harness("gate", "--baseline", str(base), "--current", str(base))
    assert same.returncode == 0 and "gate: pass" in same.stdout, same.stdout + same.stderr
    for run in (worse_kld, worse_agent):
        r = harness("gate", "--baseline", str(base), "--current", str(run))
        assert r.returncode == 1 and "gate: FAIL" in r.stdout and "| regression |" in r.stdout, r.stdout + r.stderr
    # the floor alone, no baseline: below it fails, at it passes, a run with no agent suite cannot pass
    assert harness("gate", "--current", str(worse_agent), "--min-success", "1").returncode == 1
    assert harness("gate", "--current", str(base), "--min-success", "1").returncode == 0
    none = _write(tmp_path / "none", kld_rows({"Q8_0": 0.01}))
    r = harness("gate", "--current", str(none), "--min-success", "1")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "agent suite" in r.stderr
    bad = harness("gate", "--current", str(base))
    assert bad.returncode == 2 and "--baseline" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.slow  # two replay runs of four tasks through `harness bench`
def test_a_broken_replay_fails_the_quality_gate(tmp_path):
    good, broken = tmp_path / "good-suite", tmp_path / "broken-suite"
    good.mkdir()
    broken.mkdir()
    shutil.copy(SUITE / "irrelevance.yaml", good)
    text = (SUITE / "irrelevance.yaml").read_text()
    assert "The capital of Japan is Tokyo.<|return|>" in text
    (broken / "irrelevance.yaml").write_text(text.replace("The capital of Japan is Tokyo.<|return|>",
                                                          "The capital of Japan is Kyoto.<|return|>"))
    for suite in (good, broken):
        r = harness("bench", "workload=agent", "backend=replay", f"workload.suite={suite}",
                    f"hydra.run.dir={tmp_path / suite.name}-run")
        assert r.returncode == 0, r.stderr[-2000:]
    ok = harness("gate", "--current", str(tmp_path / "good-suite-run"), "--min-success", "1")
    assert ok.returncode == 0 and "gate: pass" in ok.stdout, ok.stdout + ok.stderr
    fail = harness("gate", "--current", str(tmp_path / "broken-suite-run"), "--min-success", "1")
    assert fail.returncode == 1 and "| regression |" in fail.stdout and "0.75" in fail.stdout, fail.stdout
