"""Installed from a wheel, not run from this checkout: `pip install` of the built wheel into a fresh venv
benches from any folder on the config tree shipped inside the package (harness/conf/), and a user's
own folder of presets and sweeps (`--config-dir`, HARNESS_CONFIG_DIR) is searched before it: by a
single run, by a named sweep and by the joblib launcher's job processes.

The fast tests at the end check the search order in this process (no wheel, no llama.cpp)."""
from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from harness.config import plan as plan_mod
from harness.config.validate import ConfigError

ROOT = Path(__file__).resolve().parents[1]
ONE = ["workload.n_prompt=16", "workload.n_gen=2", "workload.repetitions=1", "backend.n_ctx=256",
       "backend.repack=false"]


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600):
    r = subprocess.run([str(c) for c in cmd], check=False, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                       env=env or _env())
    assert r.returncode == 0, f"{cmd}: {r.stderr[-3000:]}"
    return r


def _env(**extra: str) -> dict[str, str]:
    """Our environment (HARNESS_CACHE: the session's model cache) less anything pointing at this checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HARNESS_CONFIG_DIR", "VIRTUAL_ENV")}
    return {**env, **extra}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """bin/ of a fresh venv holding the harness wheel. Its dependencies (llama-cpp-python with its
    llama.cpp build, Hydra, ...) come from this interpreter's site-packages through a .pth line: no
    download, no native build. Only directories go on sys.path that way, so the .pth files there (the
    editable install's import hook for this checkout) are not run: `harness` is the wheel's."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "harness", src / "harness", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
          "-w", tmp / "dist", src], cwd=tmp)
    wheel = next((tmp / "dist").glob("gpt_oss_harness-*.whl"))
    shipped = {p.relative_to(ROOT).as_posix() for p in (ROOT / "harness" / "conf").rglob("*.yaml")}
    assert "harness/conf/bench.yaml" in shipped
    assert shipped <= set(zipfile.ZipFile(wheel).namelist())

    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp)
    py = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", py, "install", "-q", "--no-deps", "--no-index", wheel], cwd=tmp)
    purelib = _run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp).stdout.strip()
    deps = dict.fromkeys([*site.getsitepackages(), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    Path(purelib, "_harness_test_deps.pth").write_text("".join(f"{d}\n" for d in deps))
    where = _run([py, "-c", "import harness, hydra, llama_cpp; print(harness.__file__)"], cwd=tmp).stdout.strip()
    assert Path(where).is_relative_to(venv), f"harness imported from {where}, not from the wheel in {venv}"
    assert not Path(where).is_relative_to(ROOT)
    return venv / "bin"


@pytest.fixture(scope="module")
def tiny_gguf(installed, tmp_path_factory) -> Path:
    """synthetic-tiny's GGUF, as `harness models prepare` of the installed wheel builds and prints it."""
    r = _run([installed / "harness", "models", "prepare", "model=synthetic-tiny"], cwd=tmp_path_factory.mktemp("prep"))
    path = Path(r.stdout.strip().splitlines()[-1])
    assert path.is_file()
    return path


@pytest.fixture
def user_dir(tmp_path, tiny_gguf) -> Path:
    """A user's folder as docs/BENCHMARKS.md shows it: a preset for a GGUF of their own, a sweep on it,
    and a pp_tg that shadows the shipped one (pp16 + tg2, one repetition)."""
    mine = tmp_path / "my-configs"
    files = {
        "model/my-model.yaml": f"""
            name: my-model
            kind: file
            quant: F16
            path: {tiny_gguf}
            """,
        "workload/pp_tg.yaml": """
            name: pp_tg
            n_prompt: 16
            n_gen: 2
            n_depth: 0
            pg: false
            repetitions: 1
            warmup: true
            """,
        "sweep/mine.yaml": """
            # @package _global_
            defaults:
              - override /model: my-model
            sweep:
              name: mine
            run_name: mine
            backend:
              n_ctx: 256
              repack: false
              n_ubatch: ${backend.n_batch}
            hydra:
              sweeper:
                params:
                  backend.n_batch: 16,32
            """,
    }
    for name, text in files.items():
        (mine / name).parent.mkdir(parents=True, exist_ok=True)
        (mine / name).write_text(textwrap.dedent(text).lstrip())
    return mine


def _rows(csv: Path) -> pd.DataFrame:
    return pd.read_csv(csv, dtype=str, keep_default_na=False)


@pytest.mark.slow
def test_the_installed_wheel_benches_from_any_folder_on_its_shipped_configs(installed, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = _run([installed / "harness", "bench", "model=synthetic-tiny", *ONE], cwd=elsewhere)
    runs = list((elsewhere / "results").glob("bench-*"))  # the default results_dir, relative to where it ran
    assert len(runs) == 1, r.stderr[-2000:]
    df = _rows(runs[0] / "results.csv")
    assert list(df.test) == ["pp16", "tg2"] and set(df.status) == {"ok"} and set(df.model_name) == {"synthetic-tiny"}


@pytest.mark.slow
def test_config_dir_presets_come_before_the_shipped_ones(installed, user_dir, tiny_gguf, tmp_path):
    run = tmp_path / "run"
    _run([installed / "harness", "bench", "--config-dir", user_dir, "model=my-model", "backend.n_ctx=256",
          "backend.repack=false", f"hydra.run.dir={run}"], cwd=tmp_path)
    df = _rows(run / "results.csv")
    assert set(df.status) == {"ok"} and set(df.model_name) == {"my-model"} and set(df.model_path) == {str(tiny_gguf)}
    assert list(df.test) == ["pp16", "tg2"]  # the user's workload/pp_tg.yaml, not the shipped pp512 + tg128


@pytest.mark.slow
def test_a_sweep_of_harness_config_dir_runs_in_joblib_jobs(installed, user_dir, tmp_path):
    run = tmp_path / "sweep"
    _run([installed / "harness", "bench", "-m", "+sweep=mine", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
          f"hydra.sweep.dir={run}"], cwd=tmp_path, env=_env(HARNESS_CONFIG_DIR=str(user_dir)))
    df = _rows(run / "results.csv")
    assert len(df) == 4 and set(df.status) == {"ok"} and set(df.model_name) == {"my-model"}
    assert sorted(df.groupby("point").n_batch.first(), key=int) == ["16", "32"]
    assert set(df.test) == {"pp16", "tg2"}


# --- the search order, in this process ---------------------------------------------------------------

@pytest.fixture
def no_user_dirs(monkeypatch):
    """Later compositions in this session search only the shipped tree again."""
    monkeypatch.delenv(plan_mod.ENV, raising=False)
    yield
    plan_mod.use_config_dirs(())


def _preset(folder: Path, n_prompt: int) -> Path:
    (folder / "workload").mkdir(parents=True)
    (folder / "workload" / "pp_tg.yaml").write_text(f"name: pp_tg\nn_prompt: {n_prompt}\nn_gen: 2\n")
    return folder


def test_config_dir_then_the_environment_then_the_shipped_tree(tmp_path, monkeypatch, no_user_dirs):
    cli, first, second = (_preset(tmp_path / n, p) for n, p in (("cli", 11), ("first", 22), ("second", 33)))
    shipped = plan_mod.plan(["model=synthetic-tiny"], multirun=False)[0]
    assert shipped.workload.n_prompt == 512
    monkeypatch.setenv(plan_mod.ENV, os.pathsep.join([str(first), str(second)]))
    assert plan_mod.plan(["model=synthetic-tiny"], multirun=False)[0].workload.n_prompt == 22
    cfgs = plan_mod.plan(["model=synthetic-tiny", "backend.n_batch=512,1024"], multirun=True, config_dirs=[str(cli)])
    assert [c.workload.n_prompt for c in cfgs] == [11, 11]
    monkeypatch.delenv(plan_mod.ENV)
    assert plan_mod.plan(["model=synthetic-tiny"], multirun=False)[0].workload.n_prompt == 512  # nothing left over


def test_a_missing_user_folder_or_preset_is_one_line(tmp_path, monkeypatch, no_user_dirs):
    with pytest.raises(ConfigError, match=r"^--config-dir .*nope: no such folder"):
        plan_mod.plan(["model=synthetic-tiny"], multirun=False, config_dirs=[str(tmp_path / "nope")])
    monkeypatch.setenv(plan_mod.ENV, str(tmp_path / "gone"))
    with pytest.raises(ConfigError, match=r"^HARNESS_CONFIG_DIR=.*gone: no such folder"):
        plan_mod.plan(["model=synthetic-tiny"], multirun=False)
    monkeypatch.setenv(plan_mod.ENV, str(_preset(tmp_path / "mine", 16)))
    with pytest.raises(ConfigError) as exc:
        plan_mod.plan(["model=my-model"], multirun=False)
    msg = str(exc.value)
    assert "\n" not in msg and "'model/my-model'" in msg and "synthetic-tiny" in msg and "model_schema" not in msg
    assert str(tmp_path / "mine") in msg and "--config-dir" in msg


def test_config_dir_options_leave_the_overrides():
    argv, dirs = plan_mod.take_config_dirs(["-m", "--config-dir", "a", "model=x", "-cd", "b", "--config-dir=c"])
    assert argv == ["-m", "model=x"] and dirs == ["a", "b", "c"]
    with pytest.raises(ConfigError, match="needs a folder"):
        plan_mod.take_config_dirs(["model=x", "--config-dir"])
