"""Hydra callbacks: merge the jobs' rows when a multirun ends, print the summary table."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from harness.records import merge
from harness.records.schema import FAILED
from harness.records.writer import RESULTS
from harness.report.report import write_report
from harness.report.table import markdown_file
from harness.sweep import progress


def _finish(run_dir: Path) -> None:
    """Print the table and write report.md; a report that fails never loses the results."""
    out = run_dir / RESULTS
    if not out.exists():
        return
    print(f"\n{markdown_file(out)}\n\nresults: {out}")
    try:
        print(f"report:  {write_report(run_dir)}")
    except Exception as exc:  # plotting is a convenience; the rows are already on disk
        print(f"report not written: {type(exc).__name__}: {exc}", file=sys.stderr)


class MergeResults(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        out = merge.merge(sweep_dir)
        if out is not None:
            # points of other processes (joblib, submitit) count too: the exit status comes from the merge
            rows = pd.read_csv(out, dtype=str, keep_default_na=False)
            failed = rows[rows.status.isin(FAILED)]
            progress.STATE["failed"] = max(progress.STATE["failed"], failed.groupby(["run_id", "point"]).ngroups)
            _finish(sweep_dir)

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        _finish(Path(config.hydra.run.dir))
