"""A llama.cpp crash costs one point, not the sweep: fault injection (HARNESS_FAULT) kills the real
in-process worker inside a point on any machine; the sweep records the point as crashed, goes on
with a fresh worker, merges, reports, exits 1, and `resume=` reruns only that point. Ctrl-C ends a
sweep with one line and exit 130. No worker outlives any of it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pandas as pd
import psutil
import pytest
from cli_runner import ROOT, ctrl_c_reaches_it, harness

from harness.sweep import faults

# every test runs sweeps whose worker is killed, then waits for what is left of it: make test-slow
pytestmark = pytest.mark.slow

FAST = ["model=synthetic-tiny", "workload.n_prompt=32", "workload.n_gen=4", "workload.repetitions=2",
        "backend.n_ctx=256", "backend.n_ubatch=8"]


def read(csv: Path) -> pd.DataFrame:
    return pd.read_csv(csv, dtype=str, keep_default_na=False)


def left_behind(mark: str) -> list[psutil.Process]:
    """Processes still running that carry HARNESS_TEST_MARK=mark in their environment."""
    found = []
    for p in psutil.process_iter():
        try:
            if p.environ().get("HARNESS_TEST_MARK") == mark and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p)
        except psutil.Error:
            continue
    return found


def test_a_crashed_point_is_a_row_the_sweep_goes_on_and_resume_reruns_only_it(tmp_path):
    mark = uuid.uuid4().hex
    # point 0: SIGSEGV at the worker's 3rd decode = the first timed pp32 repetition (the warm-up
    # decodes two batches of 16); point 1 runs in a fresh worker
    r = harness("bench", "-m", *FAST, "backend.n_batch=16,32", f"hydra.sweep.dir={tmp_path}",
                env={faults.ENV: "SIGSEGV,decode=3,point=0", "HARNESS_TEST_MARK": mark})
    assert r.returncode == 1, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    df = read(tmp_path / "results.csv")
    crashed, ok = df[df.point == "0"], df[df.point == "1"]
    assert list(crashed.status) == ["crashed", "crashed"] and list(crashed.test) == ["pp32", "tg4"]
    assert crashed.error.str.contains("SIGSEGV \\(signal 11\\) in pp32").all()
    assert crashed.error.str.contains("last llama.cpp log: ").all()
    assert list(ok.status) == ["ok", "ok"] and (ok.model_reused == "False").all()  # a fresh worker loaded it
    assert (tmp_path / "report.md").exists() and "crashed" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "jobs" / "0" / "llama.log").stat().st_size > 0
    assert "1 point(s) failed or crashed" in r.stderr
    assert not left_behind(mark)

    again = harness("bench", "-m", *FAST, "backend.n_batch=16,32", f"resume={tmp_path}")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resume: 1 of 2 points already finished" in again.stderr and "running 1 " in again.stderr
    df = read(tmp_path / "results.csv")
    assert len(df) == 4 and set(df.status) == {"ok"}
    assert sorted(df.drop_duplicates("point").n_batch, key=int) == ["16", "32"]


@pytest.mark.parametrize("sig", ["SIGABRT", "SIGBUS", "SIGILL", "SIGFPE", "SIGKILL"])
def test_each_fatal_signal_of_the_worker_is_named_in_the_crashed_rows(tmp_path, sig):
    mark = uuid.uuid4().hex
    r = harness("bench", *FAST, "backend.n_batch=32", "workload.n_prompt=0", f"hydra.run.dir={tmp_path}",
                env={faults.ENV: f"{sig},decode=2", "HARNESS_TEST_MARK": mark})
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    df = read(tmp_path / "results.csv")
    num = int(getattr(signal, sig))
    assert list(df.status) == ["crashed"] and df.error[0].startswith(f"llama.cpp's process died: {sig} (signal {num}) in tg4")
    assert not left_behind(mark)


def test_a_chat_point_that_crashes_is_a_row_too(tmp_path):
    r = harness("bench", "-m", "model=synthetic-tiny", "workload=chat", "workload.max_prompts=2",
                "workload.max_tokens=4", "workload.repetitions=1", "backend.n_ctx=1024", "mode=raw,harmony",
                f"hydra.sweep.dir={tmp_path}", env={faults.ENV: "SIGSEGV,decode=1,point=1"})
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    df = read(tmp_path / "results.csv")
    assert set(df[df["mode"] == "raw"].status) == {"ok"}
    assert set(df[df["mode"] == "harmony"].status) == {"crashed"}


def test_ctrl_c_prints_one_line_with_the_resume_command_and_exits_130(tmp_path):
    mark = uuid.uuid4().hex
    exe = Path(sys.executable).with_name("harness")
    args = ["bench", "-m", *FAST, "backend.n_batch=16,32", f"hydra.sweep.dir={tmp_path}"]
    proc = subprocess.Popen([str(exe), *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, faults.ENV: "sleep:60,decode=1,point=1", "HARNESS_TEST_MARK": mark},
                            preexec_fn=ctrl_c_reaches_it)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "jobs" / "1" / "llama.log").exists():  # point 1 is in the worker, asleep
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1][-2000:]
            time.sleep(0.05)
        time.sleep(0.5)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    line = next(ln for ln in err.splitlines() if "interrupted" in ln)
    assert line.startswith("harness: interrupted after 1 of 2 point(s) finished; resume with: harness bench -m ")
    assert line.endswith(f"resume={tmp_path}") and "hydra.sweep.dir" not in line
    assert took < 10  # the sleeping worker is killed, not waited for
    assert list(read(tmp_path / "results.csv").status) == ["ok", "ok"]  # point 0, merged
    assert not left_behind(mark)


def test_joblib_job_processes_isolate_their_points_too(tmp_path):
    r = harness("bench", "-m", *FAST, "backend.n_batch=16,32", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                f"hydra.sweep.dir={tmp_path}", env={faults.ENV: "SIGSEGV,decode=3,point=0"})
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    df = read(tmp_path / "results.csv")
    assert set(df[df.point == "0"].status) == {"crashed"} and set(df[df.point == "1"].status) == {"ok"}
    assert (tmp_path / "report.md").exists()


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal that kills the worker is Linux's")
def test_a_killed_sweep_leaves_no_worker(tmp_path):
    mark = uuid.uuid4().hex
    exe = Path(sys.executable).with_name("harness")
    proc = subprocess.Popen([str(exe), "bench", *FAST, f"hydra.run.dir={tmp_path}"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, faults.ENV: "sleep:60,decode=1", "HARNESS_TEST_MARK": mark})
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "llama.log").exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        workers = [p for p in left_behind(mark) if p.pid != proc.pid]
        assert len(workers) == 1 and "harness.sweep.worker" in " ".join(workers[0].cmdline())
        proc.kill()  # SIGKILL: no cleanup code of the sweep runs
        proc.wait(30)
        deadline = time.monotonic() + 10
        while left_behind(mark) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not left_behind(mark)  # Linux: the worker's parent-death signal
