"""The paired gate's false-alarm and detection rates, measured on this machine.

    python -m harness.sweep.paired_rates [--against HEAD] [--runs 10] [--faulted-runs 5]
        [--fault slow:0.05] [--rounds 6] [--threshold 0.02] [--out DIR] [overrides...]

`--runs` paired gates of REF against this checkout with nothing injected (with REF = HEAD and a
clean tree, A/A: every regression is a false alarm), then `--faulted-runs` with HARNESS_FAULT=FAULT on
the current side only (slow:0.05: each decode 5% slower; every run that passes missed it). REF is
checked out once. Prints per run its verdicts and ratios, then the table docs/BENCHMARKS.md
("Regression gate") carries.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from harness.errors import parse_args
from harness.gate.checks import failed
from harness.gate.paired import THRESHOLD, Pair, pairs
from harness.sweep.faults import ENV as FAULT_ENV
from harness.sweep.paired import ROUNDS, bench_overrides, checkout, current_root, run_rounds


def one(ref_root: Path, out: Path, rounds: int, overrides: list[str], threshold: float,
        fault: str | None) -> tuple[list[Pair], float]:
    """One paired gate (its pairs and wall time, s), the fault set for the current side or not."""
    os.environ.pop(FAULT_ENV, None)
    if fault:
        os.environ[FAULT_ENV] = fault
    t0 = time.monotonic()
    try:
        ref_rounds, cur_rounds = run_rounds(ref_root, current_root(), out, rounds, overrides, log=False)
    finally:
        os.environ.pop(FAULT_ENV, None)
    return pairs(ref_rounds, cur_rounds, threshold), time.monotonic() - t0


def row(label: str, runs: list[tuple[list[Pair], float]]) -> str:
    """A table row: runs that fail, checks flagged, each test's range of paired ratios, wall time."""
    fails = sum(failed([p.check for p in r]) for r, _ in runs)
    checks = [p for r, _ in runs for p in r if p.check.change is not None]
    flagged = sum(p.check.verdict == "regression" for p in checks)
    by_test: dict[str, list[float]] = {}
    for p in checks:
        by_test.setdefault(p.check.point.rsplit("test=", 1)[-1], []).append(1 + (p.check.change or 0.0))
    ranges = "; ".join(f"{t} {min(v):.3f}-{max(v):.3f}" for t, v in sorted(by_test.items()))
    wall = sorted(s for _, s in runs)[len(runs) // 2]
    return (f"| {label} | {fails}/{len(runs)} | {fails / len(runs):.0%} | {flagged}/{len(checks)} | {ranges} | "
            f"{wall:.0f} s |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.sweep.paired_rates", description=__doc__.splitlines()[0])
    ap.add_argument("--against", default="HEAD", help="git ref (or harness checkout folder) of the REF side")
    ap.add_argument("--runs", type=int, default=10, help="paired gates with nothing injected")
    ap.add_argument("--faulted-runs", type=int, default=5, help="paired gates with --fault on the current side")
    ap.add_argument("--fault", default="slow:0.05", help="HARNESS_FAULT for the faulted runs")
    ap.add_argument("--rounds", type=int, default=ROUNDS)
    ap.add_argument("--threshold", type=float, default=THRESHOLD)
    ap.add_argument("--out", default="results/paired-rates", help="folder for every run's rounds")
    ap.add_argument("overrides", nargs="*", help="bench overrides on top of the paired gate's default point")
    a = parse_args(ap, argv or sys.argv[1:], "harness.sweep.paired_rates")
    if isinstance(a, int):
        return a
    overrides = bench_overrides(a.overrides)
    out = Path(a.out).resolve()
    results: dict[str, list[tuple[list[Pair], float]]] = {"nothing injected": [], f"HARNESS_FAULT={a.fault}": []}
    with checkout(a.against, current_root()) as ref_root:
        for label, n, fault in (("nothing injected", a.runs, None), (f"HARNESS_FAULT={a.fault}", a.faulted_runs,
                                                                     a.fault)):
            for i in range(n):
                got = one(ref_root, out / f"{'fault' if fault else 'aa'}{i}", a.rounds, overrides, a.threshold, fault)
                results[label].append(got)
                print(f"{label} run {i + 1}/{n} ({got[1]:.0f} s): " + ", ".join(
                    f"{p.check.point.rsplit('test=', 1)[-1]} {p.check.verdict} "
                    f"{1 + (p.check.change or 0.0):.3f} [{p.low:.3f}, {p.high:.3f}]" for p in got[0]),
                    file=sys.stderr, flush=True)
    print(f"paired gate vs {a.against}: {a.rounds} rounds, threshold {a.threshold:.0%}, "
          f"{' '.join(overrides)}\n")
    print("| current side | gates that fail | rate | point checks flagged | paired ratio per test (min-max) | "
          "median wall time |")
    print("|---|---:|---:|---:|---|---:|")
    for label, runs in results.items():
        if runs:
            print(row(label, runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
