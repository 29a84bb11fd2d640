"""Baselines per machine class, the A/A false-alarm count, and the committed baseline's shape."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from cli_runner import ROOT, harness

from harness.config.plan import plan
from harness.gate.aa import false_alarms
from harness.gate.baseline import keep
from harness.gate.machine import machine_class, run_env

COMMON = ["model=synthetic-tiny", "workload.n_prompt=64", "workload.n_gen=0", "workload.repetitions=5",
          "backend.n_ctx=256", "backend.n_batch=64", "backend.n_ubatch=64"]


def test_machine_class_names_accel_device_and_cores():
    env = {"accel": "cuda", "gpu_info": "NVIDIA GeForce RTX 4090", "cpu_info": "AMD", "cpu_cores_logical": 32}
    assert machine_class(env) == "cuda-nvidia-geforce-rtx-4090-32c"
    assert machine_class({"accel": "cpu", "cpu_info": "AMD EPYC", "cpu_cores_logical": 2}) == "cpu-amd-epyc-2c"


def test_a_software_gpu_is_classed_with_the_cpu_it_runs_on():
    soft = {"accel": "vulkan", "device": "Vulkan0: llvmpipe (LLVM 15.0.6, 256 bits)", "cpu_cores_logical": 2}
    amd, intel = ({**soft, "cpu_info": cpu} for cpu in ("AMD EPYC 7B13", "Intel(R) Xeon(R) Processor"))
    assert machine_class(amd) == "vulkan-llvmpipe-on-amd-epyc-7b13-2c"
    assert machine_class(intel) == "vulkan-llvmpipe-on-intel-r-xeon-r-processor-2c"
    assert machine_class({**intel, "gpu_info": "llvmpipe (LLVM 15.0.6, 256 bits)"}) == machine_class(intel)


@pytest.fixture(scope="module")
def common_run(tmp_path_factory) -> Path:
    """One bench of COMMON, read by the tests below (copied before any change)."""
    run = tmp_path_factory.mktemp("gate-baseline") / "run"
    r = harness("bench", *COMMON, f"hydra.run.dir={run}")
    assert r.returncode == 0, r.stderr[-1500:]
    return run


def test_baseline_keeps_what_the_gate_reads_without_local_paths(common_run, tmp_path):
    shutil.copytree(common_run, tmp_path / "run")
    dest = keep(tmp_path / "run", tmp_path / "baselines")
    assert dest.name == machine_class(run_env(tmp_path / "run"))
    assert sorted(p.name for p in dest.iterdir()) == ["env.json", "results.csv", "samples.jsonl"]
    text = (dest / "results.csv").read_text() + (dest / "env.json").read_text()
    assert str(Path.home()) not in text and "/tmp/" not in text
    # the kept baseline gates like the run it came from: no false alarm against itself
    assert false_alarms([tmp_path / "run", dest], "avg_ts", 0.05, 0.05)[0] == 0
    same = harness("gate", "--baseline", str(dest), "--current", f"{tmp_path}/run")
    assert same.returncode == 0 and "gate: pass" in same.stdout


def test_runs_of_different_machine_classes_are_not_gated(common_run, tmp_path):
    shutil.copytree(common_run, tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    env = json.loads((tmp_path / "b" / "env.json").read_text())
    env["cpu_cores_logical"] = 64
    (tmp_path / "b" / "env.json").write_text(json.dumps(env))
    df = pd.read_csv(tmp_path / "b" / "results.csv", dtype=str, keep_default_na=False)
    df["avg_ts"] = (df.avg_ts.astype(float) / 10).astype(str)  # ten times slower: would fail if gated
    df.to_csv(tmp_path / "b" / "results.csv", index=False)
    skipped = harness("gate", "--baseline", f"{tmp_path}/a", "--current", f"{tmp_path}/b")
    assert skipped.returncode == 0 and "skipped" in skipped.stdout and "-64c" in skipped.stdout


def test_the_committed_baseline_matches_the_gate_sweep():
    """results/baselines/<class>/ holds the points its gate benches (`make gate`, the Vulkan build's
    `make gate-vulkan`: that sweep's quant, tests and repetitions), with samples to test on."""
    bases = [p for p in (ROOT / "results" / "baselines").iterdir() if p.is_dir()]
    assert bases, "no committed baseline"
    for base in bases:
        env = json.loads((base / "env.json").read_text())
        assert machine_class(env) == base.name
        (point,) = plan(["+sweep=" + ("gate-vulkan" if env["accel"] == "vulkan" else "gate")], multirun=True)
        w = point.workload
        df = pd.read_csv(base / "results.csv", dtype=str, keep_default_na=False)
        assert set(df.quant) == {point.model.quant} and set(df.test) == {f"pp{w.n_prompt}", f"tg{w.n_gen}"}
        assert (df.status == "ok").all() and (df.repetitions == str(w.repetitions)).all()
        assert not df.model_path.str.len().any()
        samples = [json.loads(ln) for ln in (base / "samples.jsonl").read_text().splitlines()]
        assert len(samples) == len(df) and all(len(s["samples_ts"]) == w.repetitions for s in samples)
