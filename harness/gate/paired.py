"""The paired gate's judgement: each point's ratio current / REF paired by round (the statistics
`make vs-llama-bench` uses: `paired_by_round`, the geometric mean of the rounds' ratios with a
bootstrap 95% interval over rounds), so drift between minutes, which hits both arms of a round
alike, cancels. Each arm's value in a round is its fastest repetition (as the committed gate's
best_ts): interference only slows a repetition, and one slowed repetition in one arm's turn would
otherwise move that round's ratio by 10-25% (seen in A/A runs on a quiet 2-vCPU runner). A point
is a regression when the whole interval lies below 1 and the ratio is below
1 - threshold. The rounds themselves run in harness/sweep/paired.py.
"""
from __future__ import annotations

from dataclasses import dataclass

from harness.gate.checks import Check
from harness.metrics.stats import paired_by_round

THRESHOLD = 0.02
Round = dict[str, list[float]]  # one arm's run of a round: point -> per-repetition t/s


@dataclass(frozen=True)
class Pair:
    check: Check
    low: float   # the paired ratio's 95% interval
    high: float
    rounds: int


def pairs(ref: list[Round], cur: list[Round], threshold: float) -> list[Pair]:
    """A Pair per point of either arm: the paired ratio current / REF over the rounds and its verdict."""
    points = sorted(set().union(*ref, *cur))
    out = []
    for p in points:
        both = [(a[p], b[p]) for a, b in zip(ref, cur, strict=True) if p in a and p in b]
        if len(both) < len(ref):  # a round of either arm lacks it: say which side
            verdict = "missing" if all(p in a for a in ref) else "new"
            out.append(Pair(Check(point=p, metric="avg_ts", baseline=None, current=None, change=None, p_value=None,
                                  verdict=verdict), float("nan"), float("nan"), len(both)))
            continue
        mid, lo, hi = paired_by_round([a for a, _ in both], [b for _, b in both], per_round=max)
        verdict = ("regression" if hi < 1 and mid < 1 - threshold else
                   "improvement" if lo > 1 and mid > 1 + threshold else "unchanged")
        base = sum(max(a) for a, _ in both) / len(both)
        now = sum(max(b) for _, b in both) / len(both)
        out.append(Pair(Check(point=p, metric="avg_ts", baseline=base, current=now, change=mid - 1, p_value=None,
                              verdict=verdict), lo, hi, len(both)))
    return out


def summary(result: list[Pair], ref: str, threshold: float, failed: bool) -> str:
    """A markdown summary for CI logs."""
    counts: dict[str, int] = {}
    for r in result:
        counts[r.check.verdict] = counts.get(r.check.verdict, 0) + 1
    head = (f"**gate --against {ref}: {'FAIL' if failed else 'pass'}** (paired by round, threshold {threshold:.0%}): "
            + ", ".join(f"{n} {v}" for v, n in sorted(counts.items())))
    lines = [head, "", f"| verdict | point | {ref} t/s | current t/s | current / {ref} [95% CI] | rounds |",
             "|---|---|---:|---:|---:|---:|"]
    for r in result:
        c = r.check
        if c.change is None:
            lines.append(f"| {c.verdict} | {c.point} | | | | {r.rounds} |")
        else:
            lines.append(f"| {c.verdict} | {c.point} | {c.baseline:.2f} | {c.current:.2f} | "
                         f"{1 + c.change:.3f} [{r.low:.3f}, {r.high:.3f}] | {r.rounds} |")
    return "\n".join(lines)
