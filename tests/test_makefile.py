"""The Makefile's accelerator switch: right CMAKE_ARGS, and never another accelerator's wheel."""
from __future__ import annotations

import subprocess

import pytest

from cli_runner import ROOT


def dry_run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-n", "-B", *args, "VENV=/nonexistent/venv", "install"], cwd=ROOT,
                          capture_output=True, text=True)


@pytest.mark.parametrize("accel, flag", [("cpu", "-DGGML_METAL=OFF -DGGML_CUDA=OFF"), ("metal", "-DGGML_METAL=ON"),
                                          ("cuda", "-DGGML_CUDA=ON"), ("vulkan", "-DGGML_VULKAN=ON")])
def test_accel_picks_cmake_args_and_its_own_pip_cache(accel, flag):
    r = dry_run(f"ACCEL={accel}")
    assert r.returncode == 0, r.stderr
    install = next(ln for ln in r.stdout.splitlines() if "pip install -q -e" in ln)
    assert flag in install
    assert f".installed-{accel}" in r.stdout
    env = subprocess.run(["make", "-s", f"ACCEL={accel}", "-f", "Makefile", "-f", "-", "show"], cwd=ROOT,
                         input="show:\n\t@echo $$PIP_CACHE_DIR\n", capture_output=True, text=True)
    assert env.stdout.strip().endswith(f"pip-{accel}")


def test_unknown_accel_is_refused():
    r = dry_run("ACCEL=tpu")
    assert r.returncode != 0 and "ACCEL=tpu is not one of: cpu metal cuda vulkan" in r.stderr


def test_ci_runs_the_tests_then_the_gate_on_the_committed_baseline():
    commands = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines() if ln.startswith("make")]
    assert commands == ["make test", "make gate"]
    r = subprocess.run(["make", "-n", "gate", "VENV=/nonexistent/venv"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "bench -m +sweep=gate" in r.stdout and "--metric best_ts --threshold 0.15 --threshold-for tg=0.35 --alpha 0.01" in r.stdout
    assert "results/baselines/" in r.stdout
