"""Merge the per-job shards of a sweep folder into one results.csv and samples.jsonl.

A shard is a job folder `jobs/<n>/` with its rows, samples, env.json and point.json. The shards of
a folder are all the `jobs/*/` at any depth below it, so sweep folders from several hosts copied
into one folder (or a SLURM sweep whose jobs ran on many nodes) merge into one table.
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import pandas as pd

from harness.records.schema import LEGACY_VALUES, NAMES
from harness.records.writer import RESULTS, SAMPLES

POINT = "point.json"  # a shard's configuration and its key (sweep/resume.py writes it)
ENV = "env.json"
NOT_ENV = ("pid",)  # per process, not per machine


def _job_num(shard: Path) -> int:
    return int(shard.name) if shard.name.isdigit() else -1


def shards(folder: Path, nested: bool = True) -> list[Path]:
    """Job folders holding rows: folder/jobs/*/, and with nested, every jobs/*/ below folder (sweep
    folders of several hosts copied into one). Ordered by sweep folder, then job number."""
    found = folder.glob(f"**/jobs/*/{RESULTS}" if nested else f"jobs/*/{RESULTS}")
    return sorted((p.parent for p in found), key=lambda p: (str(p.parent.parent), _job_num(p), p.name))


def _key(shard: Path) -> str | None:
    try:
        key: str = json.loads((shard / POINT).read_text())["key"]
        return key
    except (OSError, ValueError, KeyError):
        return None  # a shard without point.json (older runs) is its own point


def current(folder: Path) -> list[Path]:
    """The shards that count: per sweep folder and configuration, the one with the highest job
    number (a point run again by a resumed sweep supersedes its earlier shard)."""
    latest: dict[tuple[Path, str], Path] = {}
    for shard in shards(folder):
        k = _key(shard)
        latest[(shard.parent.parent, k or str(shard))] = shard
    keep = set(latest.values())
    return [s for s in shards(folder) if s in keep]


def merge(sweep_dir: Path) -> Path | None:
    """Concatenate the current shards' rows (schema column order) and samples; returns the CSV or
    None. Each shard keeps its own env.json; the folder's env.json is the first shard's."""
    jobs = current(sweep_dir)
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
    if (jobs[0] / ENV).exists():
        shutil.copyfile(jobs[0] / ENV, sweep_dir / ENV)
    return out


def environments(folder: Path) -> list[dict[str, Any]]:
    """The distinct environment records of a run: one per machine and build its shards ran on (the
    folder's own env.json for a single run)."""
    files = [s / ENV for s in current(folder)] or [folder / ENV]
    seen: dict[str, dict[str, Any]] = {}
    for f in files:
        if f.is_file():
            env = {k: v for k, v in json.loads(f.read_text()).items() if k not in NOT_ENV}
            seen.setdefault(json.dumps(env, sort_keys=True, default=str), env)
    return list(seen.values())


def _results_csv(path: Path) -> Path:
    return path if path.suffix == ".csv" else path / RESULTS


def load_run(path: Path) -> pd.DataFrame:
    """Every row of a run folder (or of a results.csv); a sweep folder holding only job shards is
    merged first. FileNotFoundError when there is neither."""
    csv = _results_csv(path)
    if not csv.is_file() and path.is_dir():
        merge(path)
    if not csv.is_file():
        raise FileNotFoundError(f"no results.csv (nor job shards jobs/*/{RESULTS}) in {path}")
    return with_legacy_columns(pd.read_csv(csv, dtype=str, keep_default_na=False))


def with_legacy_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Rows written before a configuration column existed get the value they were run with, so an
    older run (a committed baseline) still matches a new one on CONFIG_KEYS."""
    for col, (value, backends) in LEGACY_VALUES.items():
        if col not in df.columns and "backend" in df.columns:
            df[col] = [value if b in backends else "" for b in df.backend]
    return df


SAMPLE_KEY = ("run_id", "host", "point", "test")  # a samples record belongs to the row with these


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of a results frame as dicts (pandas-stubs types their keys Hashable; the columns are str)."""
    return cast("list[dict[str, Any]]", df.to_dict("records"))


def sample_key(rec: Mapping[str, Any]) -> tuple[str, ...]:
    """The key of a samples record or of a result row (a column missing on both sides counts as empty)."""
    return tuple("" if rec.get(k) is None else str(rec[k]) for k in SAMPLE_KEY)


def load_samples(path: Path) -> dict[tuple[str, ...], dict[str, Any]]:
    """The per-repetition samples of a run (samples.jsonl beside its results.csv) by sample_key."""
    jsonl = _results_csv(path).with_name(SAMPLES)
    if not jsonl.is_file():
        return {}
    recs = (json.loads(line) for line in jsonl.read_text().splitlines() if line.strip())
    return {sample_key(r): r for r in recs}
