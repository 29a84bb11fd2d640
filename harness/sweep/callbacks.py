"""Hydra callbacks: merge the jobs' rows when a multirun ends, print the summary table."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from harness.records import merge
from harness.records.writer import RESULTS
from harness.report.table import markdown_file


class MergeResults(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        out = merge.merge(sweep_dir)
        if out is not None:
            print(f"\n{markdown_file(out)}\n\nresults: {out}")

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        out = Path(config.hydra.run.dir) / RESULTS
        if out.exists():
            print(f"\n{markdown_file(out)}\n\nresults: {out}")
