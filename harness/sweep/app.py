"""The Hydra application behind `harness bench`: one call of `task` per sweep point."""
from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from harness.config import schema
from harness.config.plan import config_dir
from harness.models import vocab
from harness.sweep import progress
from harness.sweep.job import run_point


def task(cfg: DictConfig) -> int:
    hc = HydraConfig.get()
    out = Path(hc.runtime.output_dir)
    multirun = hc.mode == RunMode.MULTIRUN
    run_dir = out.parent.parent if multirun else out
    point = int(hc.job.num) if multirun else 0
    label = " ".join(hc.overrides.task) or "defaults"
    return run_point(cfg, out, run_dir.name, point, label)


def launch(argv: list[str]) -> int:
    """Run Hydra on argv (its own grammar); exit status 1 if any point failed."""
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
