"""Match two runs' points on their configuration; flag a regression only when the change is both
larger than the threshold and significant on the per-repetition samples (one-sided Mann-Whitney U,
as asv does). Improvements and new points are reported, never failed; a baseline point missing from
the current run fails unless allowed, and runs that share no point cannot pass (NothingMatched).

A point whose baseline is unstable (its repetitions' CV above the CV limit) and whose change is worse
than the threshold but not significant (p >= alpha, or too few samples for a p) is `unstable`: the
gate does not call it a regression, does not fail on it, and names it in the summary."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
from scipy.stats import mannwhitneyu

from harness.metrics.stability import row_cv
from harness.metrics.stats import CV_LIMIT
from harness.records.merge import load_run, load_samples, records, sample_key
from harness.records.schema import CONFIG_KEYS as KEYS

SAMPLE_OF = {"avg_ts": "samples_ts", "avg_ns": "samples_ns", "best_ts": "samples_ts"}
METRICS = tuple(SAMPLE_OF)  # best_ts: the fastest repetition; interference only slows a run down, so
# the best of n swings least between runs on a shared machine (docs/BENCHMARKS.md, "Regression gate")


@dataclass(frozen=True)
class Check:
    point: str
    metric: str
    baseline: float | None
    current: float | None
    change: float | None      # relative, signed so that negative is worse
    p_value: float | None
    verdict: str              # regression | unstable | improvement | unchanged | new | missing
    baseline_cv: float | None = None  # the baseline's CV of per-repetition t/s


def load(path: Path) -> pd.DataFrame:
    """ok rows of a run folder (or a results.csv) with their per-repetition samples attached."""
    df = load_run(path)
    df = df[df.status == "ok"].copy()
    samples = load_samples(path)
    df["_samples"] = pd.Series([samples.get(sample_key(r), {}) for r in records(df)], index=df.index, dtype=object)
    return df


def _key(row: pd.Series, keys: tuple[str, ...]) -> str:
    return " ".join(f"{k}={row[k]}" for k in keys if k in row and row[k] != "")


def _value(row: pd.Series, samples: list[float], metric: str) -> float | None:
    """The row's metric; best_ts is the largest per-repetition t/s (None without samples)."""
    if metric == "best_ts":
        return float(max(samples)) if samples else None
    return float(row[metric])


def threshold_of(test: str, threshold: float, per_test: dict[str, float] | None = None) -> float:
    """The threshold for a test: the first per-test entry whose name the test starts with (tg: tg128)."""
    return next((v for prefix, v in (per_test or {}).items() if str(test).startswith(prefix)), threshold)


def compare(base: pd.DataFrame, cur: pd.DataFrame, metric: str = "avg_ts", threshold: float = 0.05,
            alpha: float = 0.05, ignore: tuple[str, ...] = (), per_test: dict[str, float] | None = None,
            cv_limit: float = CV_LIMIT) -> list[Check]:
    """A Check per point of either run; `per_test` maps test-name prefixes to their own thresholds;
    a baseline whose CV is above `cv_limit` cannot give a regression without significance (unstable)."""
    keys = tuple(k for k in KEYS if k not in ignore)
    higher_is_better = metric.endswith("_ts")
    b = {_key(r, keys): r for _, r in base.iterrows()}
    c = {_key(r, keys): r for _, r in cur.iterrows()}
    checks = []
    for point in sorted(b.keys() | c.keys()):
        if point not in c:
            checks.append(Check(point, metric, _value(b[point], [], metric), None, None, None, "missing"))
            continue
        if point not in b:
            checks.append(Check(point, metric, None, _value(c[point], [], metric), None, None, "new"))
            continue
        bs = b[point]["_samples"].get(SAMPLE_OF.get(metric, ""), [])
        cs = c[point]["_samples"].get(SAMPLE_OF.get(metric, ""), [])
        bv, cv = _value(b[point], bs, metric), _value(c[point], cs, metric)
        if bv is None or cv is None:
            checks.append(Check(point, metric, bv, cv, None, None, "missing" if cv is None else "new"))
            continue
        change = (cv - bv) / bv if higher_is_better else (bv - cv) / bv
        p = None
        if len(bs) >= 3 and len(cs) >= 3:  # is current worse than baseline?
            worse: Literal["less", "greater"] = "less" if higher_is_better else "greater"
            p = float(mannwhitneyu(cs, bs, alternative=worse).pvalue)
        limit = threshold_of(c[point].get("test", ""), threshold, per_test)
        base_cv = row_cv(b[point].to_dict(), b[point]["_samples"].get("samples_ts", []))
        significant = p is not None and p < alpha
        if change < -limit and significant:
            verdict = "regression"
        elif change < -limit and base_cv is not None and base_cv > cv_limit:
            verdict = "unstable"  # worse than the threshold, but the baseline is too noisy to say so
        elif change > limit:
            verdict = "improvement"
        else:
            verdict = "unchanged"
        checks.append(Check(point, metric, bv, cv, change, p, verdict, base_cv))
    return checks


MATCHED = ("regression", "unstable", "improvement", "unchanged")


class NothingMatched(ValueError):
    """The two runs share no point: a gate over them would judge nothing."""


def differing_columns(base: pd.DataFrame, cur: pd.DataFrame, ignore: tuple[str, ...] = ()) -> list[str]:
    """'col (baseline a, b; current c)' for each configuration column whose values differ between the runs."""
    def show(vs: list[str]) -> str:
        return ", ".join(v or "(empty)" for v in vs[:4]) + (", ..." if len(vs) > 4 else "")

    out = []
    for k in (k for k in KEYS if k not in ignore and k != "test"):
        b = sorted(set(base[k])) if k in base.columns else [""]
        c = sorted(set(cur[k])) if k in cur.columns else [""]
        if b != c:
            out.append(f"{k} (baseline {show(b)}; current {show(c)})")
    return out


def check_matched(checks: list[Check], base: pd.DataFrame, cur: pd.DataFrame, ignore: tuple[str, ...] = ()) -> None:
    """NothingMatched (one line naming the configuration columns that differ) when no point was compared."""
    if not any(c.verdict in MATCHED for c in checks):
        cols = differing_columns(base, cur, ignore) or ["test (no test name in common)"]
        raise NothingMatched(f"gate: the runs share no point, so nothing was compared; the configuration columns "
                             f"that differ: {'; '.join(cols)} (--ignore COL matches across one)")


def failed(checks: list[Check], allow_missing: bool = False) -> bool:
    """A regression, or a baseline point the current run lacks (unless allowed)."""
    return any(c.verdict == "regression" or (c.verdict == "missing" and not allow_missing) for c in checks)


def summary(checks: list[Check], threshold: float, alpha: float, per_test: dict[str, float] | None = None,
            allow_missing: bool = False, cv_limit: float = CV_LIMIT) -> str:
    """A markdown summary for CI logs; the points not judged for an unstable baseline are named."""
    counts = {v: sum(c.verdict == v for c in checks) for v in ("regression", "unstable", "improvement", "unchanged",
                                                                 "new", "missing")}
    own = "".join(f", {k}*: {v:.0%}" for k, v in (per_test or {}).items())
    head = (f"**gate: {'FAIL' if failed(checks, allow_missing) else 'pass'}** "
            f"(threshold {threshold:.0%}{own}, alpha {alpha}): "
            + ", ".join(f"{n} {v}" for v, n in counts.items() if n))
    shaky = [c.point for c in checks if c.verdict == "unstable"]
    note = ([f"Not called a regression: the baseline is unstable (CV above {cv_limit:.0%}) and the change is not "
             f"significant at alpha {alpha}; rerun the baseline with more repetitions on a quieter machine: "
             + "; ".join(shaky), ""] if shaky else [])
    lines = [head, "", *note, "| verdict | point | baseline | current | change | p | baseline CV |",
             "|---|---|---:|---:|---:|---:|---:|"]

    def fmt(x: float | None, f: str) -> str:
        return "" if x is None else format(x, f)

    order = {"regression": 0, "unstable": 1, "improvement": 2, "missing": 3, "new": 4, "unchanged": 5}
    for c in sorted(checks, key=lambda c: order[c.verdict]):
        lines.append(f"| {c.verdict} | {c.point} | {fmt(c.baseline, '.2f')} | {fmt(c.current, '.2f')} | "
                     f"{fmt(c.change, '+.1%')} | {fmt(c.p_value, '.3g')} | {fmt(c.baseline_cv, '.1%')} |")
    return "\n".join(lines)
