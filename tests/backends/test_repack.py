"""backend.repack (llama-bench --repack): the axis end to end, the flag a managed llama-server gets,
auto resolved once and cached, the remedy a crashed row names, and the real AMX crash where the CPU
has AMX (the default path must not crash there)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from cli_runner import harness

from harness.backends import repack
from harness.backends.server import model_args, parse_help, resolve_binary
from harness.config.values import parse_repack
from harness.sweep.isolate import remedy

FAST = ["model=synthetic-tiny", "workload.n_prompt=32", "workload.n_gen=4", "workload.repetitions=2",
        "backend.n_ctx=256", "backend.n_ubatch=8", "backend.n_batch=32"]
AMX = "amx_int8" in Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else False


def read(csv: Path) -> pd.DataFrame:
    return pd.read_csv(csv, dtype=str, keep_default_na=False)


@pytest.mark.parametrize("given, want", [(True, True), (False, False), ("auto", "auto"), ("false", False),
                                         ("1", True)])
def test_parse_takes_booleans_and_auto(given, want):
    assert parse_repack(given) == want


def test_a_bad_repack_value_is_one_line_exit_2():
    r = harness("bench", *FAST, "backend.repack=sometimes")
    assert r.returncode == 2
    assert r.stderr.strip() == ("harness: error: backend.repack='sometimes' is not allowed; "
                                "choose one of: true, false, auto")


@pytest.mark.slow  # a 2-point sweep
def test_the_axis_runs_both_values_end_to_end_and_fills_its_column(tmp_path):
    r = harness("bench", "-m", *FAST, "backend.repack=true,false", f"hydra.sweep.dir={tmp_path}")
    assert r.returncode == 0, r.stderr[-2000:]
    df = read(tmp_path / "results.csv")
    assert set(df.status) == {"ok"} and sorted(df.drop_duplicates("point").repack) == ["False", "True"]
    # a load parameter: the model is loaded again for the other value, not reused
    assert (df.model_reused == "False").all()


@pytest.mark.slow  # the probe builds synthetic-small in three quants and loads each in its own process
def test_auto_is_resolved_in_every_row_and_cached_once(tmp_path):
    # a cache of its own: the session's has a seeded verdict (tests/conftest.py), so nothing would be probed
    cache = tmp_path / "cache"
    r = harness("bench", *FAST, f"hydra.run.dir={tmp_path / 'run'}", env={"HARNESS_CACHE": str(cache)})
    assert r.returncode == 0, r.stderr[-2000:]
    assert "probing" in r.stderr
    df = read(tmp_path / "run" / "results.csv")
    cached = json.loads(repack.cache_file(cache).read_text())
    assert set(df.repack) == {str(cached["repack"])} and cached["reason"]
    again = harness("bench", *FAST, f"hydra.run.dir={tmp_path / 'again'}", env={"HARNESS_CACHE": str(cache)})
    assert again.returncode == 0 and "probing" not in again.stderr


def test_a_managed_llama_server_gets_no_repack_and_answers(tmp_path):
    binary = resolve_binary(type("C", (), {"server_binary": None})())
    flags = parse_help(subprocess.run([str(binary), "--help"], capture_output=True, text=True).stdout)
    from omegaconf import OmegaConf

    from harness.config.schema import BackendConfig
    cfg = OmegaConf.structured(BackendConfig(type="http", repack=False))
    assert "-nr" in model_args(cfg, Path("m.gguf"), flags) or "--no-repack" in model_args(cfg, Path("m.gguf"), flags)
    cfg.repack = True
    assert not {"-nr", "--no-repack"} & set(model_args(cfg, Path("m.gguf"), flags))
    r = harness("bench", *FAST, "backend=http", "backend.repack=false", f"hydra.run.dir={tmp_path}")
    assert r.returncode == 0, r.stderr[-2000:]
    df = read(tmp_path / "results.csv")
    assert set(df.status) == {"ok"} and set(df.repack) == {"False"}


def test_the_remedy_is_named_only_when_repack_was_on_and_weights_were_repacked(tmp_path):
    log = tmp_path / "llama.log"
    log.write_text("load_tensors:   CPU_REPACK model buffer size =    12.00 MiB\n")
    assert "backend.repack=false" in remedy(True, log)
    assert remedy(False, log) == ""
    log.write_text("load_tensors:   CPU_Mapped model buffer size =    12.00 MiB\n")
    assert ("backend.repack=false" in remedy(True, log)) == AMX  # AMX alone is reason enough


@pytest.mark.slow
@pytest.mark.skipif(not AMX, reason="needs an Intel CPU with AMX (amx_int8 in /proc/cpuinfo): the crash is AMX-only")
def test_on_amx_repack_crashes_quantized_gptoss_and_the_default_does_not(tmp_path):
    model = repack.probe_models()[0]  # synthetic-small Q8_0
    probe = subprocess.run([sys.executable, "-m", "harness.backends.repack", str(model)], capture_output=True)
    assert probe.returncode < 0, "llama.cpp's AMX repack path no longer crashes: backend.repack=auto may turn it on"
    small = ["model=synthetic-small", "model.quant=Q8_0", "workload.n_prompt=64", "workload.n_gen=4",
             "workload.repetitions=1", "backend.n_ctx=256"]
    r = harness("bench", "-m", *small, "backend.repack=true,auto", f"hydra.sweep.dir={tmp_path}")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    df = read(tmp_path / "results.csv")
    on, auto = df[df.point == "0"], df[df.point == "1"]
    assert set(on.status) == {"crashed"} and on.error.str.contains("run with backend.repack=false").all()
    assert set(auto.status) == {"ok"} and set(auto.repack) == {"False"}
