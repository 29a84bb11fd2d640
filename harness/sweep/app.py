"""The Hydra application behind `harness bench`: one call of `task` per sweep point."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from harness.config import schema
from harness.config.plan import config_dir
from harness.models import vocab
from harness.sweep import progress, resume
from harness.sweep.job import run_point

resume.register()  # job processes of other launchers (joblib, submitit) import this module first


def task(cfg: DictConfig) -> int:
    hc = HydraConfig.get()
    out = Path(hc.runtime.output_dir)
    multirun = hc.mode == RunMode.MULTIRUN
    run_dir = out.parent.parent if multirun else out
    # the job folder's number: Hydra's job number, shifted past the existing jobs when resuming
    point = (int(out.name) if out.name.isdigit() else int(hc.job.num)) if multirun else 0
    label = " ".join(o for o in hc.overrides.task if not o.startswith("resume=")) or "defaults"
    if cfg.get("resume") and multirun:
        done = resume.skip(cfg, run_dir, out)
        if done is not None:
            progress.skipped(label, done)
            return 0
    return run_point(cfg, out, run_dir.name, point, label)


def _missing_launcher(argv: list[str]) -> str | None:
    """A one-line reason when argv picks a launcher plugin that is not installed."""
    plugins = {"submitit": ("hydra_plugins.hydra_submitit_launcher", "pip install 'gpt-oss-harness[cluster]'"),
               "joblib": ("hydra_plugins.hydra_joblib_launcher", "pip install hydra-joblib-launcher")}
    for arg in argv:
        name = arg.partition("hydra/launcher=")[2]
        for prefix, (module, fix) in plugins.items():
            if name.startswith(prefix) and importlib.util.find_spec(module) is None:
                return f"hydra/launcher={name} needs its Hydra plugin, which is not installed: {fix}"
    return None


def launch(argv: list[str]) -> int:
    """Run Hydra on argv (its own grammar); exit status 1 if any point failed."""
    missing = _missing_launcher(argv)
    if missing:
        print(f"harness: error: {missing}", file=sys.stderr)
        return 2
    schema.register()
    vocab.ensure_harmony_env()
    main = hydra.main(config_path=str(config_dir()), config_name="bench", version_base="1.3")(task)
    saved = sys.argv
    sys.argv = ["harness bench", *argv]
    try:
        main()
    finally:
        sys.argv = saved
        from harness.backends.inprocess import release_model
        from harness.backends.server import release_server
        release_model()
        release_server()
    failed = progress.STATE["failed"]
    if failed:
        print(f"harness: {failed} point(s) failed; see the status and error columns", file=sys.stderr)
    return 1 if failed else 0
