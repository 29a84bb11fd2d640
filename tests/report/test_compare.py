"""`harness compare`: the join on configuration columns, the ratio intervals, and the command on
real runs (two small sweeps of synthetic-tiny, one of them left as job shards)."""
from __future__ import annotations

import math
import shutil
from pathlib import Path

import pandas as pd
import pytest
from cli_runner import harness

from harness.metrics.stats import Z95
from harness.records.schema import CONFIG_KEYS
from harness.report.compare_join import BY_NAME, Cell, Run, cell, join, label_runs, load, ratio

FAST = ["model=synthetic-tiny", "workload.n_prompt=32", "workload.n_gen=8", "workload.repetitions=3",
        "backend.n_ctx=256", "backend.n_ubatch=32", "backend.n_batch=32"]


def run(name: str, rows: list[dict], env: dict | None = None) -> Run:
    base = {k: "" for k in CONFIG_KEYS} | {"status": "ok", "workload": "pp_tg", "model_name": "m", "quant": "Q8_0"}
    return Run(Path(name), pd.DataFrame([base | r for r in rows]), {}, env or {})


def test_join_matches_configurations_and_a_column_a_run_never_sets_matches_any():
    ours = run("ours", [{"test": "tg128", "n_ctx": "1024", "avg_ts": "10"}, {"test": "tg128", "n_ctx": "4096",
                                                                          "avg_ts": "9"},
                        {"test": "pp512", "n_ctx": "1024", "avg_ts": "100"}])
    imported = run("lb", [{"test": "tg128", "avg_ts": "12"}, {"test": "tg64", "avg_ts": "13"}])  # no n_ctx at all
    points = join([ours, imported])
    got = sorted((p.keys["test"], p.keys["n_ctx"], p.rows[0]["avg_ts"], p.rows[1]["avg_ts"]) for p in points)
    assert got == [("tg128", "1024", "10", "12"), ("tg128", "4096", "9", "12")]  # pp512, tg64: in one run only
    # the other order gives the same pairs
    back = sorted((p.keys["n_ctx"], p.rows[1]["avg_ts"]) for p in join([imported, ours]))
    assert back == [("1024", "10"), ("4096", "9")]


def test_join_respects_ignore_and_every_other_configuration_column():
    a = run("a", [{"test": "tg128", "backend": "inprocess", "n_threads": "2", "avg_ts": "1"}])
    b = run("b", [{"test": "tg128", "backend": "llama-bench", "n_threads": "2", "avg_ts": "2"}])
    c = run("c", [{"test": "tg128", "backend": "llama-bench", "n_threads": "1", "avg_ts": "3"}])
    assert join([a, b]) == []
    assert [sorted(p.rows) for p in join([a, b, c], ignore=("backend",))] == [[0, 1]]
    assert [sorted(p.rows) for p in join([a, b, c], ignore=("backend", "n_threads"))] == [[0, 1, 2]]


def test_labels_come_from_the_environment_else_the_folders():
    runs = [run("x", [{}], {"accel": "metal", "device": "Apple M2 Max"}),
            run("y", [{}], {"accel": "cuda", "device": "NVIDIA GeForce RTX 4090"})]
    label_runs(runs)
    assert [r.label for r in runs] == ["metal Apple M2 Max", "cuda NVIDIA GeForce RTX 4090"]
    same = [run("x", [{}], {"accel": "cpu", "device": "EPYC"}), run("y", [{}], {"accel": "cpu", "device": "EPYC"})]
    label_runs(same)
    assert [r.label for r in same] == ["x", "y"]


def test_ratio_interval_propagates_stddev_or_bootstraps_the_samples():
    r, lo, hi = ratio(Cell(100.0, 10.0, 4, ()), Cell(50.0, 5.0, 4, ()))
    se_log = math.sqrt(0.1**2 / 4 + 0.1**2 / 4)  # relative errors of the means add in quadrature
    assert (r, lo, hi) == pytest.approx((0.5, 0.5 / math.exp(Z95 * se_log), 0.5 * math.exp(Z95 * se_log)))
    wide = ratio(Cell(10.0, 20.0, 2, ()), Cell(10.0, 20.0, 2, ()))
    assert 0 < wide[1] < 1 < wide[2]  # a huge spread still gives a positive interval
    tight = ratio(Cell(100.0, 1.0, 5, (99.0, 100.0, 101.0, 99.5, 100.5)), Cell(80.0, 1.0, 5, (79.0, 80.0, 81.0,
                                                                                             79.5, 80.5)))
    loose = ratio(Cell(100.0, 30.0, 5, (60.0, 140.0, 100.0, 70.0, 130.0)), Cell(80.0, 1.0, 5, (79.0, 80.0, 81.0,
                                                                                              79.5, 80.5)))
    assert tight[1] < 0.8 < tight[2] and tight[2] - tight[1] < 0.05
    assert loose[1] < 0.8 < loose[2] and loose[2] - loose[1] > 4 * (tight[2] - tight[1])
    assert ratio(Cell(1.0, None, 1, ()), Cell(2.0, None, 1, ())) == (2.0, None, None)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("cmp")
    for name in ("a", "b"):
        r = harness("bench", "-m", *FAST, "backend.n_threads=2", "model.quant=F16,Q8_0",
                    f"hydra.sweep.dir={root / name}")
        assert r.returncode == 0, r.stderr[-2000:]
    return root


@pytest.mark.slow  # two_runs: two 2-point sweeps
def test_compare_two_real_runs_writes_tables_and_figures(two_runs, tmp_path):
    a, b = two_runs / "a", two_runs / "b"
    r = harness("compare", str(a), str(a), str(b), "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    md = (tmp_path / "out" / "compare.md").read_text()
    assert md in r.stdout
    assert "### throughput (tokens/s, `avg_ts`; higher is better)" in md
    assert "### tg as a share of the memory-bandwidth bound (%, `roofline_pct`" in md
    lines = [ln for ln in md.splitlines() if ln.startswith("| Q8_0 tg8 |") or ln.startswith("| F16 pp32 |")]
    assert len(lines) == 3  # F16 pp32, Q8_0 tg8 in the throughput table; Q8_0 tg8 in the roofline one
    for ln in lines:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        assert cells[1] == cells[2]  # a against itself: the same value...
        assert cells[3].startswith("1.000 [")  # ...ratio 1 (the bootstrap interval is not empty)
    for name in ("compare_avg_ts", "compare_roofline_pct"):
        assert (tmp_path / "out" / "figures" / f"{name}.png").stat().st_size > 10000
        assert (tmp_path / "out" / "figures" / f"{name}.svg").exists()
    assert "memory bandwidth" in md
    run_a = load(a)  # every row's samples are found, so the intervals above are bootstraps
    assert all(len(cell(BY_NAME["avg_ts"], r, run_a.samples).samples) == 3 for r in run_a.rows.to_dict("records"))


@pytest.mark.slow  # two_runs: two 2-point sweeps
def test_a_sweep_folder_of_shards_only_is_merged_and_compared(two_runs, tmp_path):
    shards = tmp_path / "shards"
    shutil.copytree(two_runs / "b", shards)
    for f in ("results.csv", "samples.jsonl"):
        (shards / f).unlink()
    r = harness("compare", str(two_runs / "a"), str(shards), "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    assert "| F16 tg8 |" in r.stdout and (shards / "results.csv").is_file()


@pytest.mark.slow  # two_runs: two 2-point sweeps
def test_compare_refuses_in_one_line(two_runs, tmp_path):
    a = str(two_runs / "a")
    cases = [[a], [a, str(tmp_path / "nothing")], [a, a, "--ignore", "colour"], [a, a, "--mem-bw", "fast"],
             [a, str(two_runs / "b"), "--mem-bw", "not-a-run=100"]]
    for args in cases:
        r = harness("compare", *args, "--out", str(tmp_path / "o"))
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, (args, r.stderr)
    assert "at least 2" in harness("compare", a).stderr


@pytest.mark.slow  # two_runs: two 2-point sweeps
def test_runs_that_share_no_point_say_which_columns_differ(two_runs, tmp_path):
    other = tmp_path / "t1"
    r = harness("bench", *FAST, "model.quant=Q8_0", "backend.n_threads=1", f"hydra.run.dir={other}")
    assert r.returncode == 0, r.stderr[-2000:]
    bad = harness("compare", str(two_runs / "a"), str(other), "--out", str(tmp_path / "o"))
    assert bad.returncode == 2 and "n_threads (2 | 1)" in bad.stderr and "--ignore" in bad.stderr
    ok = harness("compare", str(two_runs / "a"), str(other), "--ignore", "n_threads", "--out", str(tmp_path / "o"))
    assert ok.returncode == 0 and "| Q8_0 tg8 |" not in ok.stdout and "| tg8 |" in ok.stdout


def test_an_unstable_throughput_cell_is_flagged():
    from harness.report.compare import table
    ours = run("ours", [{"test": "tg128", "avg_ts": "100", "stddev_ts": "20", "cv_ts": "0.2"},
                        {"test": "pp512", "avg_ts": "900", "stddev_ts": "9", "cv_ts": "0.01"}])
    theirs = run("theirs", [{"test": "tg128", "avg_ts": "110", "stddev_ts": "1", "cv_ts": "0.009"},
                            {"test": "pp512", "avg_ts": "950", "stddev_ts": "9", "cv_ts": "0.0095"}])
    label_runs([ours, theirs])
    points = join([ours, theirs])
    labels = [str(p.keys["test"]) for p in points]
    lines = table(BY_NAME["avg_ts"], [ours, theirs], points, labels)
    rows = {ln.split(" | ")[0].strip("| "): ln for ln in lines if ln.startswith("| tg128") or ln.startswith("| pp512")}
    assert "| 100.0 ± 20.0 ! |" in rows["tg128"] and "| 110.0 ± 1 |" in rows["tg128"] and "!" not in rows["pp512"]
    assert any(ln.startswith("`!`: unstable, the repetitions' CV is above 5% (1 cell(s))") for ln in lines)
    relaxed = table(BY_NAME["avg_ts"], [ours, theirs], points, labels, cv_limit=0.25)
    assert not any("!" in ln for ln in relaxed)
