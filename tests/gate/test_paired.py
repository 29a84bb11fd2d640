"""The paired gate: the ratio paired by round on hand-made rounds (drift between rounds cancels), the
slow:SHARE fault on a real llama.cpp backend, and `harness gate --against REF` on a git worktree."""
from __future__ import annotations

import json
import subprocess
import time

import pytest
from cli_runner import ROOT, harness

from harness.gate.paired import pairs
from harness.sweep import faults
from harness.sweep.paired import bench_overrides

TINY = ["model=synthetic-tiny", "model.quant=Q8_0", "workload.n_prompt=32", "workload.n_gen=8",
        "workload.repetitions=2", "backend.n_ctx=256", "backend.n_threads=1"]


def rounds(slowdown: float) -> tuple[list[dict[str, list[float]]], list[dict[str, list[float]]]]:
    """Six rounds whose speed drifts by 30% between rounds; the current arm `slowdown` slower than REF
    within each round in pp, unchanged in tg."""
    drift = [1.0, 0.7, 0.95, 0.72, 1.02, 0.8]
    wobble = [1.01, 0.99, 1.005, 0.995, 1.0, 1.008]  # tg: the arms differ by noise only
    ref, cur = [], []
    for d, w in zip(drift, wobble, strict=True):
        ref.append({"test=pp64": [1000 * d, 1005 * d, 995 * d], "test=tg16": [100 * d, 101 * d, 99 * d]})
        cur.append({"test=pp64": [1000 * d * (1 - slowdown), 1003 * d * (1 - slowdown), 997 * d * (1 - slowdown)],
                    "test=tg16": [100.5 * d * w, 100 * d * w, 99.5 * d * w]})
    return ref, cur


def test_a_paired_slowdown_is_caught_through_drift_that_hides_it_from_unpaired_statistics():
    ref, cur = rounds(0.05)
    result = {p.check.point.split("test=")[1]: p for p in pairs(ref, cur, 0.02)}
    assert result["pp64"].check.verdict == "regression" and result["tg16"].check.verdict == "unchanged"
    assert result["pp64"].high < 1 and result["pp64"].check.change == pytest.approx(-0.05, abs=0.003)
    assert result["tg16"].low < 1 < result["tg16"].high and result["pp64"].rounds == 6
    # below the threshold it passes, though significant
    small = {p.check.point.split("test=")[1]: p.check.verdict for p in pairs(*rounds(0.01), 0.02)}
    assert small == {"pp64": "unchanged", "tg16": "unchanged"}


def test_a_point_missing_from_a_round_of_the_current_arm_is_missing():
    ref = [{"test=pp64": [10.0], "test=tg16": [5.0]} for _ in range(2)]
    cur = [{"test=pp64": [10.0], "test=tg16": [5.0]}, {"test=pp64": [10.0]}]
    verdicts = {p.check.point.split("test=")[1]: p.check.verdict for p in pairs(ref, cur, 0.02)}
    assert verdicts == {"pp64": "unchanged", "tg16": "missing"}


def test_user_overrides_replace_the_default_point_of_the_same_key():
    got = bench_overrides(["model=synthetic-tiny", "workload.repetitions=2"])
    assert "model=synthetic-tiny" in got and "model=synthetic-small" not in got
    assert got.count("workload.repetitions=2") == 1 and not any(o == "workload.repetitions=3" for o in got)


def test_the_slow_fault_parses_and_rejects_a_bad_share():
    f = faults.parse("slow:0.05")
    assert f is not None and f.slow_share == pytest.approx(0.05)
    for bad in ("slow:x", "slow:-1", "sleep:", "slow"):
        with pytest.raises(faults.FaultSpecError, match="slow:SHARE"):
            faults.parse(bad)


@pytest.mark.slow  # a tiny model loaded, 10 timed decode runs
def test_the_slow_fault_makes_each_decode_that_share_slower(tiny_cfg, tiny_model):
    from harness.backends.inprocess import InProcessBackend
    b = InProcessBackend(tiny_cfg("backend.n_threads=1").backend, tiny_model)
    b.start()
    try:
        plain = b.decode_each
        faults.arm(b, faults.Fault("slow:1.0"))
        tokens = list(range(1, 33))
        times: dict[str, list[float]] = {"plain": [], "slow": []}
        for _ in range(5):  # interleaved, so drift hits both alike
            for name, fn in (("plain", plain), ("slow", b.decode_each)):
                b.clear()
                t0 = time.perf_counter()
                fn(tokens)
                times[name].append(time.perf_counter() - t0)
    finally:
        b.stop()
    ratio = sorted(times["slow"])[2] / sorted(times["plain"])[2]
    assert ratio > 1.5, times  # 2x in expectation: the spin equals the call's own time


def test_a_ref_git_cannot_check_out_is_one_line():
    r = harness("gate", "--against", "no-such-ref-xyz", "--rounds", "2")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "no-such-ref-xyz" in r.stderr
    r = harness("gate", "--against", "HEAD", "--baseline", "x")
    assert r.returncode == 2 and "--against HEAD" in r.stderr


def _worktrees() -> list[str]:
    out = subprocess.run(["git", "-C", str(ROOT), "worktree", "list", "--porcelain"], capture_output=True, text=True)
    return [ln for ln in out.stdout.splitlines() if ln.startswith("worktree ")]


@pytest.mark.slow  # 2 rounds x 2 arms of `harness bench` on synthetic-tiny
def test_the_paired_gate_catches_a_current_harness_four_times_as_slow(tmp_path):
    before = _worktrees()
    r = harness("gate", "--against", "HEAD", "--rounds", "2", "--out", str(tmp_path), *TINY,
                env={faults.ENV: "slow:3.0"})
    assert r.returncode == 1 and "gate --against HEAD: FAIL" in r.stdout, r.stdout + r.stderr[-2000:]
    assert "| regression | test=tg8 |" in r.stdout  # each decode 4x as long: tg8 at about a quarter
    rounds = [json.loads(ln) for ln in (tmp_path / "rounds.jsonl").read_text().splitlines()]
    assert [(x["round"], x["arm"]) for x in rounds] == [(0, "ref"), (0, "current"), (1, "current"), (1, "ref")]
    assert all(set(x["samples_ts"]) == {"test=pp32", "test=tg8"} for x in rounds)
    assert _worktrees() == before  # the temporary worktree is gone


def test_ci_runs_the_replay_floor_and_the_paired_gate_after_the_committed_baseline_gate():
    lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines() if ln and not ln.startswith("#")]
    at = lines.index("make gate")
    assert lines[at + 1:at + 5] == [
        "rm -rf results/gate-replay",
        ".venv/bin/harness bench workload=agent backend=replay hydra.run.dir=results/gate-replay",
        ".venv/bin/harness gate --current results/gate-replay --min-success 1", "make gate-paired"]
    r = subprocess.run(["make", "-n", "gate-paired", "VENV=/nonexistent/venv"], cwd=ROOT, capture_output=True,
                       text=True)
    assert r.returncode == 0 and "harness gate --against HEAD~1 --threshold 0.10 --out results/gate-paired" in r.stdout, r.stderr
