"""The gate's false-alarm rate from A/A runs: the same build benched several times on one machine.

    python -m harness.gate.aa [--threshold 0.15] [--alpha 0.01] RUN_DIR RUN_DIR [RUN_DIR ...]

Every ordered pair of runs (baseline, current) is gated as `harness gate` would; as nothing
changed, each regression it flags is a false alarm. Prints, per threshold, the share of pairs
that would fail CI and the share of point checks flagged, and the largest slowdown seen, so the
threshold and alpha of `make gate` can be chosen from measurements, not guessed.
"""
from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

from harness.errors import fail
from harness.gate.checks import compare, load


def false_alarms(runs: list[Path], metric: str, threshold: float, alpha: float) -> tuple[int, int, int, int]:
    """(pairs failed, pairs, checks flagged, checks) over every ordered pair of runs."""
    data = [load(r) for r in runs]
    failed = pairs = flagged = checks = 0
    for b, c in itertools.permutations(range(len(data)), 2):
        result = compare(data[b], data[c], metric, threshold, alpha)
        n = sum(x.verdict == "regression" for x in result)
        pairs, failed = pairs + 1, failed + (n > 0)
        checks, flagged = checks + sum(x.change is not None for x in result), flagged + n
    return failed, pairs, flagged, checks


def worst_slowdown(runs: list[Path], metric: str) -> float:
    """The largest relative slowdown of any point between any two runs."""
    data = [load(r) for r in runs]
    worst = 0.0
    for b, c in itertools.permutations(range(len(data)), 2):
        for x in compare(data[b], data[c], metric, 1.0, 1.0):
            if x.change is not None:
                worst = max(worst, -x.change)
    return worst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.gate.aa", description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--metric", default="avg_ts")
    ap.add_argument("--alpha", type=float, default=0.01)
    ap.add_argument("--threshold", type=float, nargs="+", default=[0.05, 0.10, 0.15, 0.20])
    a = ap.parse_args(argv)
    if len(a.runs) < 2:
        return fail("harness.gate.aa", "give at least 2 run folders of the same build")
    print(f"A/A over {len(a.runs)} runs ({len(a.runs) * (len(a.runs) - 1)} ordered pairs), metric {a.metric}, "
          f"alpha {a.alpha}; largest slowdown of a point between two runs: {worst_slowdown(a.runs, a.metric):.1%}\n")
    print("| threshold | pairs that fail | false-alarm rate (pairs) | checks flagged |")
    print("|---:|---:|---:|---:|")
    for t in a.threshold:
        failed, pairs, flagged, checks = false_alarms(a.runs, a.metric, t, a.alpha)
        print(f"| {t:.0%} | {failed}/{pairs} | {failed / pairs:.1%} | {flagged}/{checks} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
