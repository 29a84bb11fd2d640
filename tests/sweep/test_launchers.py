"""Beyond one process: Hydra's joblib launcher runs the jobs in separate processes, each writing its
own shard; shards of several hosts' sweep folders merge in `harness report`; the shipped SLURM config."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from cli_runner import harness
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from harness.config import schema
from harness.config.plan import config_dir

FAST = ["model=synthetic-tiny", "workload.n_prompt=32", "workload.n_gen=4", "workload.repetitions=2",
        "backend.n_ctx=256", "backend.n_ubatch=8"]


def read(csv: Path) -> pd.DataFrame:
    return pd.read_csv(csv, dtype=str, keep_default_na=False)


@pytest.mark.slow  # a 4-point sweep in joblib job processes
def test_joblib_jobs_write_their_own_shards_and_merge_once_and_hosts_merge_in_report(tmp_path):
    run = tmp_path / "sweep"
    r = harness("bench", "-m", *FAST, "backend.n_batch=8,16,24,32", "hydra/launcher=joblib",
                "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={run}")
    assert r.returncode == 0, r.stderr[-2000:]
    df = read(run / "results.csv")
    assert len(df) == 8 and set(df.status) == {"ok"}
    assert sorted(df.groupby("point").n_batch.first(), key=int) == ["8", "16", "24", "32"]  # each point once
    envs = {j.name: json.loads((j / "env.json").read_text()) for j in (run / "jobs").iterdir()}
    assert len(envs) == 4 and len({e["pid"] for e in envs.values()}) >= 2  # separate processes
    for job, env in envs.items():
        assert (df[df.point == job].host == env["host"]).all() and env["host"]
    assert json.loads((run / "env.json").read_text())["host"] == envs["0"]["host"]
    assert "| pp32 |" in r.stdout and (run / "report.md").exists()

    # another host ran the same sweep: its folder, copied beside this one, merges in `harness report`
    both = tmp_path / "both"
    shutil.copytree(run, both / "mac" / "sweep")
    other = shutil.copytree(run, both / "cuda-box" / "sweep")
    for job in (other / "jobs").iterdir():
        env = json.loads((job / "env.json").read_text())
        (job / "env.json").write_text(json.dumps({**env, "host": "cuda-box", "accel": "cuda"}))
        rows = read(job / "results.csv").assign(host="cuda-box", accel="cuda")
        rows.to_csv(job / "results.csv", index=False)
    rep = harness("report", str(both))
    assert rep.returncode == 0, rep.stderr[-2000:]
    merged = read(both / "results.csv")
    assert len(merged) == 16 and merged.groupby("host").size().to_dict() == {"cuda-box": 8, envs["0"]["host"]: 8}
    report = (both / "report.md").read_text()
    assert "2 machines or builds ran these shards" in report and "| cuda-box |" in report


def test_the_shipped_slurm_config_takes_whole_nodes_and_keeps_shards_in_the_sweep_folder():
    schema.register()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("bench", overrides=["hydra/launcher=submitit_slurm", "hydra.launcher.partition=gpu"],
                      return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert launcher.partition == "gpu" and launcher.additional_parameters.exclusive is True
    assert launcher.nodes == 1 and launcher.tasks_per_node == 1 and launcher.max_num_timeout == 0
    assert OmegaConf.to_container(cfg.hydra.sweep)["subdir"] == "jobs/${hydra.job.num}"  # a shard per job
