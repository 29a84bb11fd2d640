"""The Makefile's accelerator switch: right CMAKE_ARGS, one llama.cpp build per accelerator and CPU,
and llama-cpp-python installed without a second native build, on that build's libraries."""
from __future__ import annotations

import subprocess

import pytest
from cli_runner import ROOT


def dry_run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-n", "-B", *args, "VENV=/nonexistent/venv", "install"], cwd=ROOT,
                          capture_output=True, text=True)


@pytest.mark.parametrize("accel, flag", [("cpu", "-DGGML_METAL=OFF -DGGML_CUDA=OFF"), ("metal", "-DGGML_METAL=ON"),
                                          ("cuda", "-DGGML_CUDA=ON"), ("vulkan", "-DGGML_VULKAN=ON")])
def test_accel_picks_cmake_args_and_its_own_build(accel, flag):
    r = dry_run(f"ACCEL={accel}", "HARNESS_CACHE=/cache")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.replace("\\\n", " ").splitlines()
    configure = next(ln for ln in lines if ln.startswith("cmake -S"))
    assert flag in configure and f"/cache/llama.cpp-0.3.36-{accel}-" in configure
    assert "-DLLAMA_BUILD_COMMIT=" in configure and "-DLLAMA_BUILD_NUMBER=" in configure
    build = next(ln for ln in lines if ln.startswith("cmake --build"))
    assert all(t in build for t in ("llama ", "llama-server", "llama-bench", "llama-quantize"))
    install = next(ln for ln in lines if "pip install -q -e" in ln)
    assert "-DLLAMA_BUILD=OFF" in install  # no second compile of llama.cpp
    assert f".installed-{accel}" in r.stdout
    assert any("ln -s" in ln and "llama_cpp" in ln for ln in lines)  # the one build's libraries linked in
    assert sum(ln.startswith("cmake --build") for ln in lines) == 1


def test_the_build_folder_is_keyed_by_the_cpu():
    out = [subprocess.run(["make", "-s", "-p", "-n", "HARNESS_CACHE=/cache", "VENV=/nonexistent/venv", "install"],
                          cwd=ROOT, capture_output=True, text=True).stdout for _ in range(2)]
    dirs = [next(ln for ln in o.splitlines() if ln.startswith("LLAMA_CPP_DIR :=")) for o in out]
    assert dirs[0] == dirs[1] and dirs[0].rsplit("-", 1)[1].isalnum() and len(dirs[0].rsplit("-", 1)[1]) == 10


def test_unknown_accel_is_refused():
    r = dry_run("ACCEL=tpu")
    assert r.returncode != 0 and "ACCEL=tpu is not one of: cpu metal cuda vulkan" in r.stderr


def test_ci_runs_the_tests_then_the_gate_on_the_committed_baseline():
    commands = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines() if ln.startswith("make")]
    assert commands[:4] == ["make test", "make test-slow", "make gate", "make gate-paired"]
    assert "set -euo pipefail" in (ROOT / ".ci" / "run").read_text()
    r = subprocess.run(["make", "-n", "gate", "VENV=/nonexistent/venv"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "bench -m +sweep=gate" in r.stdout and "--metric best_ts --threshold 0.15 --threshold-for tg=0.35 --alpha 0.01" in r.stdout
    assert "results/baselines/" in r.stdout


def test_make_test_leaves_out_the_slow_tests_and_test_slow_runs_only_them():
    def recipe(target: str) -> str:
        r = subprocess.run(["make", "-n", target, "VENV=/nonexistent/venv"], cwd=ROOT, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        return next(ln for ln in r.stdout.splitlines() if "-m pytest" in ln)
    assert recipe("test").endswith('-m pytest -q -m "not slow"')
    assert recipe("test-slow").endswith("-m pytest -q -m slow")
    import tomllib
    ini = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert any(m.startswith("slow:") for m in ini["markers"]) and "--strict-markers" in ini["addopts"]


def test_make_test_lints_first_with_the_projects_ruff_and_mypy_config():
    r = subprocess.run(["make", "-n", "test", "VENV=/nonexistent/venv"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    ruff = next(i for i, ln in enumerate(lines) if ln.startswith("/nonexistent/venv/bin/ruff check harness tests"))
    mypy = next(i for i, ln in enumerate(lines) if ln.strip() == "/nonexistent/venv/bin/mypy")
    pytest_ = next(i for i, ln in enumerate(lines) if "-m pytest" in ln)
    assert ruff < pytest_ and mypy < pytest_
    import tomllib
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]
    assert tool["ruff"]["line-length"] == 120 and {"E", "F", "I"} <= set(tool["ruff"]["lint"]["select"])
    assert tool["mypy"]["strict"] is True and tool["mypy"]["files"] == ["harness"]


def test_the_vulkan_build_has_a_venv_of_its_own_and_its_tests_run_there():
    def venv(*args: str) -> str:
        out = subprocess.run(["make", "-s", "-p", "-n", *args, "HARNESS_CACHE=/cache", "clean-venv"], cwd=ROOT,
                             capture_output=True, text=True).stdout
        return next(ln.split(":=")[1].strip() for ln in out.splitlines() if ln.startswith("PY :="))
    assert venv("ACCEL=vulkan") == ".venv-vulkan/bin/python" and venv("ACCEL=cpu") == ".venv/bin/python"
    r = subprocess.run(["make", "-n", "test-vulkan"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "bash scripts/vulkan-packages.sh" in r.stdout
    assert "ACCEL=vulkan VENV=.venv-vulkan install" in r.stdout
    assert "GGML_VK_VISIBLE_DEVICES=${GGML_VK_VISIBLE_DEVICES-0} .venv-vulkan/bin/python -m pytest -q -m vulkan" in r.stdout
    ci = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines() if ln.startswith("make")]
    assert ci[-2:] == ["make test-vulkan", "make gate-vulkan"]


def test_vulkan_headers_new_enough_are_used_as_they_are(tmp_path):
    """scripts/vulkan-headers.sh prints nothing when the system's headers have vk::LayerSettingEXT,
    else a folder whose headers do (here one made beforehand, so nothing is fetched)."""
    system_ok = subprocess.run(["c++", "-std=c++17", "-fsyntax-only", "-x", "c++", "-"], capture_output=True,
                               input="#include <vulkan/vulkan.hpp>\nvk::LayerSettingEXT s;\n", text=True).returncode == 0
    inc = tmp_path / "usr" / "include" / "vulkan"
    inc.mkdir(parents=True)
    (inc / "vulkan.hpp").write_text("namespace vk { struct LayerSettingEXT {}; }\n")
    r = subprocess.run(["bash", str(ROOT / "scripts" / "vulkan-headers.sh"), str(tmp_path)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ("" if system_ok else str(tmp_path / "usr" / "include"))
