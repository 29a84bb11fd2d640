"""The runs of `harness compare`, joined on the points they share, with each metric's cell and ratio.

Rows are joined on the configuration columns (records.schema.CONFIG_KEYS, less --ignore); the
environment (accel, cpu_info, gpu_info, build) is what the runs are compared on, so it never takes
part. A configuration column a run does not set at all (empty in every row, e.g. n_ctx of an
imported llama-bench run) matches any value. A metric's cell is a row's value with its stddev and
per-repetition samples; its ratio to the first run has a 95% interval (metrics.stats): a bootstrap
over both runs' samples when samples.jsonl has them, else the stddevs propagated (delta method).
compare.py writes the tables, compare_plots.py the figures.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.metrics import roofline, stats
from harness.records.merge import load_run, load_samples, records, sample_key
from harness.records.schema import CONFIG_KEYS


class CompareError(ValueError):
    """Bad input to compare, said in one line."""


@dataclass(frozen=True)
class Metric:
    column: str
    label: str
    unit: str
    higher_is_better: bool
    spread: str = ""        # the column holding its stddev
    samples: str = ""       # samples.jsonl key of its per-repetition values (pp_tg)
    request: str = ""       # else the field of each request under `requests` (chat, load)
    base: str = ""          # a metric this one is proportional to (its spread and samples, scaled)


METRICS = (
    Metric("avg_ts", "throughput", "tokens/s", True, "stddev_ts", "samples_ts", "decode_ts"),
    Metric("roofline_pct", "tg as a share of the memory-bandwidth bound", "%", True, base="avg_ts"),
    Metric("ttft_ms", "time to first token", "ms", False, request="ttft_ms"),
    Metric("e2e_ms", "request latency", "ms", False, request="e2e_ms"),
    Metric("output_ts", "output throughput over all clients", "tokens/s", True),
)
BY_NAME = {m.column: m for m in METRICS}


@dataclass
class Run:
    path: Path
    rows: pd.DataFrame
    samples: dict[tuple[str, ...], dict[str, Any]]  # samples.jsonl by sample_key
    env: dict[str, Any]
    label: str = ""


@dataclass
class Point:
    keys: dict[str, str | None]             # None: not set by any run joined so far
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)  # run index -> row


@dataclass(frozen=True)
class Cell:
    value: float
    sd: float | None
    n: int
    samples: tuple[float, ...]


def load(path: Path, given_gbs: float | None = None) -> Run:
    df = load_run(path)
    df = roofline.fill(df[df.status == "ok"].reset_index(drop=True), given_gbs)
    src = path if path.is_dir() else path.parent
    env = json.loads((src / "env.json").read_text()) if (src / "env.json").is_file() else {}
    return Run(path, df, load_samples(path), env)


def env_value(run: Run, key: str) -> str:
    """An environment field of a run: its env.json's, else its first row's ('' when neither has it)."""
    first = run.rows.iloc[0].to_dict() if len(run.rows) else {}
    return str(run.env.get(key) or first.get(key) or "")


def _env_label(run: Run) -> str:
    device = env_value(run, "device") or env_value(run, "gpu_info") or env_value(run, "cpu_info")
    backend = ",".join(sorted(set(run.rows.backend))) if "backend" in run.rows else ""
    return " ".join(x for x in (env_value(run, "accel"), device, f"[{backend}]" if backend else "") if x)


def label_runs(runs: list[Run]) -> None:
    """Labels from the environment (accel, device, backend); folder names when those repeat."""
    for candidates in ([_env_label(r) for r in runs], [r.path.name for r in runs]):
        if len(set(candidates)) == len(runs) and all(candidates):
            break
    else:
        candidates = [f"{r.path.name} ({i + 1})" for i, r in enumerate(runs)]
    for r, lab in zip(runs, candidates):
        r.label = lab


def join(runs: list[Run], ignore: tuple[str, ...] = ()) -> list[Point]:
    """Points of all runs, each with the rows of the runs that have it (see the module doc)."""
    keys = [k for k in CONFIG_KEYS if k not in ignore]
    points: list[Point] = []
    for i, run in enumerate(runs):
        known = [k for k in keys if k in run.rows and (run.rows[k] != "").any()]
        before = list(points)
        added: dict[tuple[tuple[str, str | None], ...], Point] = {}
        specialised: set[int] = set()
        for row in records(run.rows):
            matched = False
            for p in before:
                if any(p.keys[k] is not None and p.keys[k] != row[k] for k in known):
                    continue
                matched = True
                fill = {k: row[k] for k in known if p.keys[k] is None}
                if not fill:
                    p.rows.setdefault(i, row)
                    continue
                specialised.add(id(p))
                child_keys = {**p.keys, **fill}
                child = added.setdefault(tuple(child_keys.items()), Point(child_keys, dict(p.rows)))
                child.rows.setdefault(i, row)
            if not matched:
                k = {key: (row[key] if key in known else None) for key in keys}
                added.setdefault(tuple(k.items()), Point(k)).rows.setdefault(i, row)
        points = [p for p in points if id(p) not in specialised] + list(added.values())
    return [p for p in points if len(p.rows) > 1]


def no_match_reason(runs: list[Run], ignore: tuple[str, ...]) -> str:
    diffs = []
    for k in (k for k in CONFIG_KEYS if k not in ignore):
        sets = [sorted(set(r.rows[k])) if k in r.rows else [] for r in runs]
        if all(s and s != [""] for s in sets) and not set.intersection(*map(set, sets)):
            diffs.append(f"{k} ({' | '.join(','.join(s) for s in sets)})")
    return (f"no point in common between the runs; they differ in {', '.join(diffs) or 'their tests'}; "
            "--ignore COL... leaves columns out of the match")


def cell(metric: Metric, row: dict[str, Any], samples: dict[tuple[str, ...], dict[str, Any]]) -> Cell | None:
    """The metric of one row with its stddev and per-repetition samples (when known)."""
    try:
        value = float(row.get(metric.column, ""))
    except ValueError:
        return None
    if math.isnan(value):
        return None
    if metric.base:
        base = cell(BY_NAME[metric.base], row, samples)
        if base is None or not base.value:
            return Cell(value, None, 1, ())
        f = value / base.value
        return Cell(value, base.sd * f if base.sd is not None else None, base.n, tuple(x * f for x in base.samples))
    rec = samples.get(sample_key(row), {})
    xs = rec.get(metric.samples) if metric.samples else None
    if xs is None and metric.request:
        xs = [r.get(metric.request) for r in rec.get("requests", [])]
    xs = tuple(float(x) for x in (xs or []) if x is not None and x == x)
    sd = row.get(metric.spread, "") if metric.spread else ""
    sd = float(sd) if sd not in ("", "nan") else (float(np.std(xs, ddof=1)) if len(xs) > 1 else None)
    n = len(xs) or int(float(row.get("repetitions") or 1))
    return Cell(value, sd, n, xs)


def ratio(a: Cell, b: Cell, resamples: int = 2000, seed: int = 0) -> tuple[float, float | None, float | None]:
    """b / a with a 95% interval: bootstrap of the ratio of means over both runs' samples when each
    has 2 or more, else the stddevs propagated on the log scale (delta method, n from the samples or
    repetitions), which keeps the interval positive."""
    r = b.value / a.value
    if len(a.samples) > 1 and len(b.samples) > 1:
        return (r, *stats.ratio_ci(a.samples, b.samples, resamples, seed))
    if a.sd is None or b.sd is None:
        return r, None, None
    return (r, *stats.ratio_ci_from_spread(a.value, a.sd, a.n, b.value, b.sd, b.n))


def point_labels(points: list[Point]) -> list[str]:
    """Each point by the configuration columns that vary among the points (test always)."""
    cols = [k for k in CONFIG_KEYS if k != "test" and len({p.keys.get(k) for p in points}) > 1]
    return [" ".join([*(f"{k}={p.keys[k]}" if k not in ("quant", "model_name", "backend", "mode") else str(p.keys[k])
                        for k in cols if p.keys.get(k) not in (None, "")), str(p.keys.get("test"))])
            for p in points]
