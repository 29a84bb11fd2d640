"""A point's metric across many runs, and the gate of one run against the last N runs' distribution.

A history is run folders ordered by when they ran (their earliest `test_time`). Each point (its
configuration columns, as the gate matches) has one value per run: the speed metric (avg_ts,
best_ts or avg_ns) for speed rows, `success` for agent task/suite rows, `kld_mean` for kld rows.

The rule (`harness gate --history DIR --window N`): the current value is a regression when it lies
beyond the one-sided t prediction limit of the last N runs' values (mean - t(1-alpha, N-1) * sd *
sqrt(1 + 1/N); Bencher's t-test boundary, with the prediction term because the current run is one
new value) AND worse than their mean by more than the threshold. A t limit rather than Bencher's IQR
rule: with the 5-10 runs a window holds, quartiles rest on one or two values each, while the t
limit widens for a small N as it should; the threshold keeps a history that barely varies (a
deterministic quality number) from flagging a change of no size.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harness.gate.checks import SAMPLE_OF, Check, _key, _value, load
from harness.gate.quality import KLD, agent_counts, speed_rows
from harness.metrics.stats import describe, prediction_p
from harness.records.merge import shards
from harness.records.schema import CONFIG_KEYS
from harness.records.writer import RESULTS

MIN_HISTORY = 3  # past values a point needs before the history gate judges it


@dataclass(frozen=True)
class Run:
    path: Path
    time: str     # the earliest test_time of its rows (ISO 8601), "" when none
    commit: str   # harness_commit of its rows (the first), "" when none
    rows: pd.DataFrame


def _is_run(path: Path) -> bool:
    return (path / RESULTS).is_file() or bool(shards(path, nested=False))


def find_runs(paths: list[Path]) -> list[Path]:
    """Run folders: each path that is one, else the run folders directly inside it."""
    found: list[Path] = []
    for p in paths:
        if p.is_file() or _is_run(p):
            found.append(p)
        elif p.is_dir():
            found += sorted(c for c in p.iterdir() if c.is_dir() and _is_run(c))
        else:
            raise FileNotFoundError(f"{p}: no such run folder")
    return found


def load_runs(paths: list[Path]) -> list[Run]:
    """The runs under `paths`, oldest first."""
    runs = []
    for path in find_runs(paths):
        df = load(path)
        times = sorted(t for t in df.get("test_time", pd.Series(dtype=str)) if t)
        commits = [c for c in df.get("harness_commit", pd.Series(dtype=str)) if c]
        runs.append(Run(path, times[0] if times else "", commits[0] if commits else "", df))
    return sorted(runs, key=lambda r: (r.time, str(r.path)))


def higher_is_better(metric: str) -> bool:
    return metric != "kld_mean" and not metric.endswith("_ns")


def point_values(df: pd.DataFrame, metric: str) -> dict[tuple[str, str], float]:
    """(point, metric) -> value for every point of a run: speed rows' metric, agent success, kld_mean."""
    out: dict[tuple[str, str], float] = {}
    for _, r in speed_rows(df, metric).iterrows():
        v = _value(r, r["_samples"].get(SAMPLE_OF.get(metric, ""), []), metric)
        if v is not None:
            out[(_key(r, CONFIG_KEYS), metric)] = v
    for _, point, m, c, n in agent_counts(df):
        if m == "success" and n:
            out[(point, m)] = c / n
    if "kld_mean" in df.columns and "workload" in df.columns:
        for _, r in df[(df.workload == KLD) & (df.kld_mean.astype(str) != "")].iterrows():
            out[(_key(r, CONFIG_KEYS), "kld_mean")] = float(r.kld_mean)
    return out


Key = tuple[str, str]  # (point, metric)


def table(runs: list[Run], metric: str) -> dict[Key, list[float]]:
    """Per (point, metric) its value in each run, oldest first; NaN where a run lacks the point."""
    values = [point_values(r.rows, metric) for r in runs]
    keys = sorted(set().union(*values)) if values else []
    return {k: [v.get(k, math.nan) for v in values] for k in keys}


def judge(past: list[float], value: float, metric: str, alpha: float, threshold: float) -> tuple[float, float, str]:
    """(relative change, p, verdict) of `value` against the past values; change is negative when worse."""
    mean = describe(past).mean
    up = higher_is_better(metric)
    change = ((value - mean) if up else (mean - value)) / mean if mean else (value - mean if up else mean - value)
    p_worse = prediction_p(past, value) if up else prediction_p([-x for x in past], -value)
    p_better = prediction_p([-x for x in past], -value) if up else prediction_p(past, value)
    verdict = ("regression" if p_worse < alpha and change < -threshold else
               "improvement" if p_better < alpha and change > threshold else "unchanged")
    return change, p_worse, verdict


def history_checks(past: list[Run], cur: pd.DataFrame, metric: str, window: int, alpha: float,
                   thresholds: dict[str, float]) -> list[Check]:
    """A Check per point of the current run against the last `window` past runs that have it
    (`thresholds`: per metric, 0 for one not named). A point of the newest past run missing now is
    `missing`; one with fewer than MIN_HISTORY past values is `new` (reported, not judged)."""
    hist = table(past, metric)
    now = point_values(cur, metric)
    checks = []
    for key in sorted(hist.keys() | now.keys()):
        point, m = key
        values = [v for v in hist.get(key, []) if not math.isnan(v)][-window:]
        base = describe(values).mean if values else None
        if key not in now:
            if key in hist and not math.isnan(hist[key][-1]):
                checks.append(Check(point=point, metric=m, baseline=base, current=None, change=None, p_value=None,
                                    verdict="missing"))
            continue
        if len(values) < MIN_HISTORY:
            checks.append(Check(point=point, metric=m, baseline=base, current=now[key], change=None, p_value=None,
                                verdict="new"))
            continue
        change, p, verdict = judge(values, now[key], m, alpha, thresholds.get(m, 0.0))
        checks.append(Check(point=point, metric=m, baseline=base, current=now[key], change=change, p_value=p,
                            verdict=verdict))
    return checks


def past_runs(history: Path, current: Path, window: int) -> list[Run]:
    """The last `window` runs of the folder `history`, the current run left out if it is among them."""
    runs = [r for r in load_runs([history]) if r.path.resolve() != current.resolve()]
    if not runs:
        raise FileNotFoundError(f"--history {history}: no run folders in it (each a folder with results.csv)")
    return runs[-window:]
