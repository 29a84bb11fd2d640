"""The regression gate: statistics on known samples, and the CLI on real runs."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from cli_runner import harness

from harness.gate.checks import compare


def run(points: dict[str, list[float]]) -> pd.DataFrame:
    """Rows as load() returns them: one per test, avg_ts the mean of its samples."""
    return pd.DataFrame([{"model_name": "m", "quant": "Q8_0", "test": t, "status": "ok", "point": "0",
                          "avg_ts": str(sum(s) / len(s)), "_samples": {"samples_ts": s}} for t, s in points.items()])


BASE = [100.0, 101.0, 99.0, 100.5, 99.5]


def verdicts(base, cur, **kw):
    return {c.point.split("test=")[1]: c.verdict for c in compare(run(base), run(cur), **kw)}


def test_a_large_significant_drop_is_a_regression_and_the_rest_is_reported():
    v = verdicts({"tg": BASE, "pp": BASE, "gone": BASE},
                 {"tg": [80.0, 81.0, 79.0, 80.5, 79.5], "pp": [120.0, 121.0, 119.0, 120.5, 119.5], "added": BASE})
    assert v == {"tg": "regression", "pp": "improvement", "gone": "missing", "added": "new"}


def test_small_or_insignificant_changes_pass():
    small = [x * 0.97 for x in BASE]  # 3% slower, significant but under the 5% threshold
    noisy = [60.0, 140.0, 95.0, 70.0, 130.0]  # mean 99, overlapping: not significant
    v = verdicts({"a": BASE, "b": BASE, "c": BASE}, {"a": small, "b": noisy, "c": [80.0, 81.0]})
    assert v == {"a": "unchanged", "b": "unchanged", "c": "unchanged"}  # c: 2 samples cannot be significant


@pytest.mark.slow  # two pp256 runs, one of them decoding 8 tokens a batch
def test_cli_passes_a_run_against_itself_and_fails_a_real_slowdown(tmp_path):
    # the slowdown: the same pp256 decoded 8 tokens a batch instead of 256 (32 decodes instead of 1),
    # several times slower on any machine, so the test does not hang on a speed
    common = ["model=synthetic-tiny", "workload.n_prompt=256", "workload.n_gen=0", "workload.repetitions=5",
              "backend.n_ctx=512"]
    fast = ["backend.n_batch=256", "backend.n_ubatch=256"]
    slow = ["backend.n_batch=8", "backend.n_ubatch=8"]
    assert harness("bench", *common, *fast, f"hydra.run.dir={tmp_path}/base").returncode == 0
    assert harness("bench", *common, *slow, f"hydra.run.dir={tmp_path}/slow").returncode == 0
    same = harness("gate", "--baseline", f"{tmp_path}/base", "--current", f"{tmp_path}/base")
    assert same.returncode == 0 and "gate: pass" in same.stdout
    worse = harness("gate", "--baseline", f"{tmp_path}/base", "--current", f"{tmp_path}/slow",
                    "--ignore", "n_batch", "n_ubatch", "--threshold", "0.2")
    assert worse.returncode == 1 and "gate: FAIL" in worse.stdout and "| regression |" in worse.stdout
    better = harness("gate", "--baseline", f"{tmp_path}/slow", "--current", f"{tmp_path}/base",
                     "--ignore", "n_batch", "n_ubatch")
    assert better.returncode == 0 and "| improvement |" in better.stdout
    # runs that share no point cannot pass: one line naming the columns that differ, exit 2
    unmatched = harness("gate", "--baseline", f"{tmp_path}/base", "--current", f"{tmp_path}/slow")
    lines = unmatched.stderr.strip().splitlines()
    assert unmatched.returncode == 2 and len(lines) == 1 and "Traceback" not in unmatched.stderr
    assert "share no point" in lines[0] and "n_batch (baseline 256; current 8)" in lines[0]
    assert "n_ubatch (baseline 256; current 8)" in lines[0] and "n_ctx" not in lines[0]
    bad = harness("gate", "--baseline", f"{tmp_path}/nope", "--current", f"{tmp_path}/base")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_best_ts_judges_the_fastest_repetition():
    # one slow repetition drags the mean 12% down; the best repetition did not move: no regression
    interfered = [100.0, 101.0, 99.0, 100.5, 40.0]
    assert verdicts({"tg": BASE}, {"tg": interfered}, metric="best_ts", threshold=0.1)["tg"] == "unchanged"
    assert verdicts({"tg": BASE}, {"tg": interfered}, metric="avg_ts", threshold=0.1, alpha=0.5)["tg"] != "improvement"
    # every repetition 20% slower: the best is too, and it is significant
    slower = [x * 0.8 for x in BASE]
    checks = compare(run({"tg": BASE}), run({"tg": slower}), metric="best_ts", threshold=0.15, alpha=0.01)
    assert checks[0].verdict == "regression" and abs(checks[0].change + 0.2) < 1e-9 and checks[0].baseline == 101.0


def test_a_test_can_have_a_threshold_of_its_own():
    slower = [x * 0.8 for x in BASE]  # 20% slower, significant
    cur = {"pp512": slower, "tg128": slower}
    assert verdicts({"pp512": BASE, "tg128": BASE}, cur, threshold=0.15) == {"pp512": "regression",
                                                                               "tg128": "regression"}
    assert verdicts({"pp512": BASE, "tg128": BASE}, cur, threshold=0.15,
                    per_test={"tg": 0.35}) == {"pp512": "regression", "tg128": "unchanged"}


def test_a_bad_per_test_threshold_is_one_line(tmp_path):
    r = harness("gate", "--baseline", str(tmp_path), "--current", str(tmp_path), "--threshold-for", "tg=lots")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "tg=lots" in lines[0], r.stderr


def test_a_baseline_point_missing_now_fails_unless_allowed(tmp_path):
    import shutil
    base = Path(__file__).resolve().parents[2] / "results" / "baselines" / "cpu-amd-epyc-2c"
    cur = shutil.copytree(base, tmp_path / "cur")
    rows = pd.read_csv(cur / "results.csv", dtype=str, keep_default_na=False)
    rows[rows.test != "tg128"].to_csv(cur / "results.csv", index=False)  # tg128 no longer measured
    args = ["gate", "--baseline", str(base), "--current", str(cur), "--metric", "best_ts"]
    strict = harness(*args)
    assert strict.returncode == 1 and "gate: FAIL" in strict.stdout and "| missing |" in strict.stdout
    allowed = harness(*args, "--allow-missing")
    assert allowed.returncode == 0 and "gate: pass" in allowed.stdout and "1 missing" in allowed.stdout


NOISY = [100.0, 112.0, 88.0, 106.0, 94.0]  # mean 100, CV 9.5%: an unstable baseline


def test_an_unstable_baseline_gives_no_regression_without_significance():
    from harness.gate.checks import failed, summary
    overlap = [70.0, 105.0, 80.0, 100.0, 75.0]   # 14% lower on average, not significant against NOISY
    far = [50.0, 51.0, 49.0, 50.5, 49.5]          # 50% lower, every repetition below the baseline's
    checks = compare(run({"tg": NOISY, "pp": NOISY, "same": NOISY, "steady": BASE}),
                     run({"tg": overlap, "pp": far, "same": [101.0, 99.0, 100.0, 102.0, 98.0], "steady": overlap}))
    v = {c.point.split("test=")[1]: c for c in checks}
    assert v["tg"].verdict == "unstable" and v["tg"].p_value >= 0.05 and v["tg"].baseline_cv > 0.05
    assert v["pp"].verdict == "regression" and v["pp"].p_value < 0.05  # unstable baseline, significant change
    assert v["same"].verdict == "unchanged"                            # within the threshold
    assert v["steady"].verdict == "unchanged" and v["steady"].baseline_cv < 0.05  # a stable baseline: as before
    assert failed(checks)  # pp
    text = summary(checks, 0.05, 0.05)
    assert "1 unstable" in text and "baseline is unstable (CV above 5%)" in text and "| unstable | " in text
    note = next(line for line in text.splitlines() if line.startswith("Not called a regression"))
    assert note.endswith("model_name=m quant=Q8_0 test=tg")
    # the limit decides: above the baseline's CV, the same drop is plainly unchanged
    assert verdicts({"tg": NOISY}, {"tg": overlap}, cv_limit=0.1) == {"tg": "unchanged"}


def test_an_unstable_point_alone_passes_and_counts_as_compared():
    from harness.gate.checks import check_matched, failed
    checks = compare(run({"tg": NOISY}), run({"tg": [70.0, 105.0, 80.0, 100.0, 75.0]}))
    assert [c.verdict for c in checks] == ["unstable"] and not failed(checks)
    check_matched(checks, run({"tg": NOISY}), run({"tg": NOISY}))  # compared: no NothingMatched


def test_without_samples_the_baseline_cv_comes_from_its_columns():
    base = run({"tg": NOISY}).assign(cv_ts="0.2", _samples=[{}])
    cur = run({"tg": [80.0, 81.0, 79.0, 80.5, 79.5]})
    [c] = compare(base, cur)
    assert c.verdict == "unstable" and c.baseline_cv == 0.2 and c.p_value is None


def test_a_bad_cv_limit_is_one_line(tmp_path):
    r = harness("gate", "--baseline", str(tmp_path), "--current", str(tmp_path), "--cv-limit", "-1")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "--cv-limit" in lines[0] and "-1" in lines[0], r.stderr
