"""How busy the machine was while a test ran (records/busy.py): CPU time of this process tree is its
own, that of a process outside it is others'; the sweep warns when others took more than 10%."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from cli_runner import harness

from harness.records import busy

TICKS = os.sysconf("SC_CLK_TCK")
# a Python that spins until it has used `cpu` seconds of CPU, then touches `done`
SPIN = "import sys, time, pathlib\nwhile time.process_time() < float(sys.argv[1]): pass\npathlib.Path(sys.argv[2]).touch()"


def _wait(path: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.02)


def test_a_childs_cpu_is_own_and_an_outsiders_is_others(tmp_path):
    before = busy.read()
    child = subprocess.Popen([sys.executable, "-c", SPIN, "0.5", str(tmp_path / "child")])
    _wait(tmp_path / "child")
    alive = busy.read()  # the child still runs (or is a zombie): its own counters
    child.wait()
    reaped = busy.read()  # reaped: its time moved into our cutime
    assert before.own is not None and alive.own is not None and reaped.own is not None
    assert alive.own - before.own >= 0.4 * TICKS and reaped.own - before.own >= 0.4 * TICKS
    # an orphan (its parent, sh, exits at once) is outside our tree: its CPU is others'
    start = busy.read()
    subprocess.run(["sh", "-c", f"'{sys.executable}' -c '{SPIN}' 0.5 '{tmp_path / 'orphan'}' &"], check=True)
    _wait(tmp_path / "orphan")
    end = busy.read()
    others = (end.busy - start.busy) - (end.own - start.own)
    assert others >= 0.4 * TICKS and end.own - start.own < 0.3 * TICKS
    cols = busy.columns(start, end)
    assert 0 < float(cols["other_cpu_pct"]) <= 100 and float(cols["load_avg"]) >= 0
    assert set(cols) == set(busy.BUSY_COLUMNS)


def test_the_warning_names_the_point_and_its_busy_tests():
    rows = [{"test": "pp64", "other_cpu_pct": 23.0}, {"test": "tg32", "other_cpu_pct": 4.0},
            {"test": "tg8", "other_cpu_pct": ""}]
    line = busy.busy_line("point 3 (model.quant=Q8_0)", rows)
    assert line is not None and "\n" not in line and "point 3 (model.quant=Q8_0)" in line
    assert "pp64 23%" in line and "tg32" not in line and "more than 10%" in line
    assert busy.busy_line("point 3", rows[1:]) is None


@pytest.mark.slow  # a tiny pp/tg bench while two outside processes spin on the CPUs
def test_the_in_process_worker_records_busyness_and_the_run_warns(tmp_path):
    stop = tmp_path / "stop"
    hog = f"import pathlib, time\nwhile not pathlib.Path('{stop}').exists(): pass"
    for _ in range(max(2, os.cpu_count() or 2)):  # orphans: outside the sweep's process tree
        subprocess.run(["sh", "-c", f"'{sys.executable}' -c \"{hog}\" &"], check=True)
    try:
        r = harness("bench", "model=synthetic-tiny", "workload.n_prompt=32", "workload.n_gen=8",
                    "workload.repetitions=3", "backend.n_ctx=256", f"hydra.run.dir={tmp_path}/run")
    finally:
        stop.touch()
    assert r.returncode == 0, r.stderr[-2000:]
    rows = pd.read_csv(tmp_path / "run" / "results.csv", dtype=str, keep_default_na=False)
    assert (rows.backend == "inprocess").all()
    other = rows.other_cpu_pct.astype(float)
    assert (other > 10).all() and (other <= 100).all(), list(other)
    assert (rows.load_avg.astype(float) > 0).all() and (rows.cv_ts != "").all()
    warned = [ln for ln in r.stderr.splitlines() if "other processes took more than 10%" in ln]
    assert len(warned) == 1 and "pp32" in warned[0] and "tg8" in warned[0]
    assert "Busy machine" in (tmp_path / "run" / "report.md").read_text()
