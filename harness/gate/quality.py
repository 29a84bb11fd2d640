"""Quality in the gate: the agent workload's success per task and per suite, and mean KLD per quant.

A drop of quality fails the gate like a slowdown (a Check with verdict regression):
- agent success (task and suite rows): the counts of trials that passed, baseline vs current, by a
  one-sided Fisher's exact test (p < alpha); exact, so sound for a task of 1-5 trials. The suite
  pools its tasks' trials; with trials > 1 it also tests pass^k as counts: tasks whose every trial
  passed, out of tasks.
- KLD (workload=kld rows, `kld_mean` vs the F16 base; lower is better): a rise of more than the
  threshold (relative, and at least KLD_FLOOR nats): the numbers of one build are deterministic, so
  no test on samples.
- a floor (`--min-success`): a current suite row below it fails, baseline or not (the replay
  policy must score 100%: it proves the agent loop, tools and verifiers).
"""
from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from harness.gate.checks import Check, _key
from harness.metrics.stats import fisher_drop
from harness.records.schema import CONFIG_KEYS

AGENT, KLD = "agent", "kld"
QUALITY_WORKLOADS = (AGENT, KLD)  # rows the speed checks leave to this module
KLD_FLOOR = 1e-3  # nats: a rise of kld_mean smaller than this is noise of the arithmetic, never a drop


def speed_rows(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The rows the speed checks judge: not a quality workload's, and with the metric (its avg_ts for
    best_ts) filled in."""
    col = "avg_ts" if metric == "best_ts" else metric
    if df.empty or col not in df.columns:
        return df.iloc[0:0]
    keep = df[col].astype(str) != ""
    if "workload" in df.columns:
        keep &= ~df.workload.isin(QUALITY_WORKLOADS)
    return df[keep]


def _num(row: pd.Series, col: str, default: float = float("nan")) -> float:
    try:
        return float(row.get(col, default))
    except (TypeError, ValueError):
        return default


def _counts(task: pd.Series) -> tuple[int, int]:
    """(trials judged, trials passed) of a task row: trials less the infra errors, success x that."""
    n = max(0, int(_num(task, "trials", 0)) - int(_num(task, "infra_errors", 0)))
    rate = _num(task, "success", 0.0)
    return n, round((rate if rate == rate else 0.0) * n)


def _rows(df: pd.DataFrame, workload: str, col: str) -> pd.DataFrame:
    """The rows of `workload` with column `col` present."""
    if df.empty or "workload" not in df.columns or col not in df.columns:
        return df.iloc[0:0]
    return df[df.workload == workload]


def agent_counts(df: pd.DataFrame) -> Iterator[tuple[str, str, str, int, int]]:
    """(level, point, metric, passed, out of) of every agent task row, and per suite (its tasks
    pooled): success over trials and, with trials > 1, pass^k over tasks."""
    keys = tuple(k for k in CONFIG_KEYS if k != "test")
    rows = _rows(df, AGENT, "level")
    if rows.empty:
        return
    tasks = rows[rows.level == "task"]
    for _, t in tasks.iterrows():
        n, c = _counts(t)
        yield "task", _key(t, CONFIG_KEYS), "success", c, n
    for _, s in rows[rows.level == "suite"].iterrows():
        group = [_counts(t) for _, t in tasks.iterrows() if _key(t, keys) == _key(s, keys)]
        yield "suite", _key(s, CONFIG_KEYS), "success", sum(c for _, c in group), sum(n for n, _ in group)
        k = int(_num(s, "trials", 1))
        if k > 1:
            full = [(n, c) for n, c in group if n >= k]
            yield "suite", _key(s, CONFIG_KEYS), "pass_hat_k", sum(c == n for n, c in full), len(full)


def agent_checks(base: pd.DataFrame, cur: pd.DataFrame, alpha: float) -> list[Check]:
    """A Check per agent task/suite metric of either run; a regression is a significant drop."""
    b = {(p, m): (c, n) for _, p, m, c, n in agent_counts(base)}
    k = {(p, m): (c, n) for _, p, m, c, n in agent_counts(cur)}
    out = []
    for point, metric in sorted(b.keys() | k.keys()):
        if (point, metric) not in k or (point, metric) not in b:
            side = b if (point, metric) in b else k
            c, n = side[(point, metric)]
            share = c / n if n else None
            verdict = "missing" if side is b else "new"
            out.append(Check(point=point, metric=metric, baseline=share if side is b else None,
                             current=share if side is k else None, change=None, p_value=None, verdict=verdict))
            continue
        (bc, bn), (cc, cn) = b[(point, metric)], k[(point, metric)]
        if not bn or not cn:
            out.append(Check(point=point, metric=metric, baseline=bc / bn if bn else None,
                             current=cc / cn if cn else None, change=None, p_value=None, verdict="unchanged"))
            continue
        bs, cs = bc / bn, cc / cn
        p_drop, p_rise = fisher_drop(bc, bn, cc, cn), fisher_drop(cc, cn, bc, bn)
        verdict = ("regression" if cs < bs and p_drop < alpha else
                   "improvement" if cs > bs and p_rise < alpha else "unchanged")
        out.append(Check(point=point, metric=metric, baseline=bs, current=cs, change=cs - bs,
                         p_value=p_drop, verdict=verdict))
    return out


def _kld(df: pd.DataFrame) -> dict[str, float]:
    rows = _rows(df, KLD, "kld_mean")
    if rows.empty:
        return {}
    rows = rows[rows.kld_mean.astype(str) != ""]
    return {_key(r, CONFIG_KEYS): float(r.kld_mean) for _, r in rows.iterrows()}


def kld_checks(base: pd.DataFrame, cur: pd.DataFrame, threshold: float) -> list[Check]:
    """A Check per kld point of either run: a regression when kld_mean rose by more than `threshold`
    of the baseline's and by at least KLD_FLOOR; change is relative, negative when KLD rose."""
    b, c = _kld(base), _kld(cur)
    out = []
    for point in sorted(b.keys() | c.keys()):
        if point not in c or point not in b:
            out.append(Check(point=point, metric="kld_mean", baseline=b.get(point), current=c.get(point),
                             change=None, p_value=None, verdict="missing" if point in b else "new"))
            continue
        bv, cv = b[point], c[point]
        rise = cv - bv
        verdict = ("regression" if rise > max(threshold * bv, KLD_FLOOR) else
                   "improvement" if -rise > max(threshold * bv, KLD_FLOOR) else "unchanged")
        out.append(Check(point=point, metric="kld_mean", baseline=bv, current=cv,
                         change=-rise / bv if bv > 0 else None, p_value=None, verdict=verdict))
    return out


def floor_checks(cur: pd.DataFrame, min_success: float) -> list[Check]:
    """A Check per agent suite row of the current run: a regression when its success is below the floor."""
    out = []
    for level, point, metric, c, n in agent_counts(cur):
        if level != "suite" or metric != "success":
            continue
        share = c / n if n else 0.0
        out.append(Check(point=point, metric=f"success >= {min_success:.0%}", baseline=min_success, current=share,
                         change=share - min_success, p_value=None,
                         verdict="regression" if share < min_success else "unchanged"))
    return out


def quality_checks(base: pd.DataFrame, cur: pd.DataFrame, alpha: float, kld_threshold: float) -> list[Check]:
    """Every quality check between two runs (agent success, pass^k, KLD)."""
    return agent_checks(base, cur, alpha) + kld_checks(base, cur, kld_threshold)
