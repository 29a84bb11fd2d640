"""Merge the per-job shards of a sweep folder into one results.csv and samples.jsonl."""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from harness.records.schema import NAMES
from harness.records.writer import RESULTS, SAMPLES


def job_dirs(sweep_dir: Path) -> list[Path]:
    jobs = [p.parent for p in sweep_dir.glob(f"jobs/*/{RESULTS}")]
    return sorted(jobs, key=lambda p: int(p.name) if p.name.isdigit() else p.name)


def merge(sweep_dir: Path) -> Path | None:
    """Concatenate the jobs' rows (schema column order) and samples; returns the CSV or None."""
    jobs = job_dirs(sweep_dir)
    if not jobs:
        return None
    frames = [pd.read_csv(j / RESULTS, dtype=str, keep_default_na=False) for j in jobs]
    df = pd.concat(frames, ignore_index=True).reindex(columns=list(NAMES), fill_value="")
    out = sweep_dir / RESULTS
    tmp = out.with_name(out.name + ".tmp")
    df.to_csv(tmp, index=False)
    tmp.replace(out)
    with (sweep_dir / SAMPLES).open("w") as f:
        for j in jobs:
            if (j / SAMPLES).exists():
                f.write((j / SAMPLES).read_text())
    if (jobs[0] / "env.json").exists():
        shutil.copyfile(jobs[0] / "env.json", sweep_dir / "env.json")
    return out
