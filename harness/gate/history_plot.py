"""`harness history RUN_DIR... | DIR`: each point's metric over the runs (by time and harness commit)
with the band the history gate judges against, as history.png and a markdown table history.md.

The band drawn at run i is the one `harness gate --history --window N` would have used for it: the
one-sided t prediction limits (at alpha, each side) of the N runs before it that have the point.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from harness.errors import fail, parse_args
from harness.gate.checks import METRICS
from harness.gate.history import MIN_HISTORY, Key, Run, load_runs, table
from harness.metrics.stats import prediction_interval
from harness.records.schema import CONFIG_KEYS

MAX_PANELS = 24  # points drawn; the table holds them all


def _labels(points: list[Key]) -> dict[Key, str]:
    """Short names: only the configuration values that differ between the points, then the metric."""
    split = {p: dict(kv.split("=", 1) for kv in p[0].split(" ") if "=" in kv) for p in points}
    varying = [k for k in CONFIG_KEYS if len({s.get(k, "") for s in split.values()}) > 1]
    return {p: " ".join(split[p].get(k, "") for k in varying if split[p].get(k)) + f" [{p[1]}]" for p in points}


def _run_label(r: Run) -> str:
    return f"{r.commit[:9] or '?'} {r.time[5:16].replace('T', ' ') or r.path.name}"


def bands(values: list[float], window: int, alpha: float) -> list[tuple[float, float]]:
    """Per run, the band of the `window` values before it (nan, nan while fewer than MIN_HISTORY)."""
    out = []
    for i in range(len(values)):
        past = [v for v in values[:i] if not math.isnan(v)][-window:]
        out.append(prediction_interval(past, alpha) if len(past) >= MIN_HISTORY else (math.nan, math.nan))
    return out


def write(runs: list[Run], out: Path, metric: str, window: int, alpha: float) -> str:
    """Write history.png and history.md into `out`; returns the markdown."""
    out.mkdir(parents=True, exist_ok=True)
    data = table(runs, metric)
    points = list(data)
    names = _labels(points)
    lines = ["| run | time (UTC) | harness commit | " + " | ".join(names[p] for p in points) + " |",
             "|---|---|---|" + "---:|" * len(points)]
    for i, run in enumerate(runs):
        cells = ["" if math.isnan(data[p][i]) else f"{data[p][i]:.4g}" for p in points]
        lines.append(f"| {run.path.name} | {run.time} | {run.commit} | " + " | ".join(cells) + " |")
    last = [bands([*data[p], math.nan], window, alpha)[-1] for p in points]
    lines.append(f"| band for the next run (last {window}, alpha {alpha}) | | | "
                 + " | ".join("" if math.isnan(lo) else f"{lo:.4g} - {hi:.4g}" for lo, hi in last) + " |")
    md = "\n".join(lines)
    (out / "history.md").write_text(md + "\n")
    _figure(runs, data, points[:MAX_PANELS], names, window, alpha).savefig(out / "history.png", dpi=110)
    plt.close("all")
    return md


def _figure(runs: list[Run], data: dict[Key, list[float]], points: list[Key], names: dict[Key, str],
            window: int, alpha: float) -> Figure:
    cols = min(3, max(1, len(points)))
    rows = max(1, math.ceil(len(points) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.6 * rows), squeeze=False, layout="constrained")
    x = list(range(len(runs)))
    for ax, p in zip(axes.flat, points, strict=False):
        values = data[p]
        lo, hi = zip(*bands(values, window, alpha), strict=True) if values else ((), ())
        ax.fill_between(x, lo, hi, alpha=0.25, color="tab:blue", label=f"band of the last {window} runs")
        ax.plot(x, values, "o-", color="tab:blue", label=p[1])
        ax.set_title(names[p], fontsize=8)
        ax.set_xticks(x)
        ax.set_xticklabels([_run_label(r) for r in runs], rotation=90, fontsize=6)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(points):]:
        ax.set_visible(False)
    if points:
        axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"{metric_title(points)} over {len(runs)} runs (commit, time)", fontsize=10)
    return fig


def metric_title(points: list[Key]) -> str:
    return ", ".join(sorted({m for _, m in points})) or "no point"


def main(argv: list[str]) -> int:
    """`harness history`: the table (printed and written) and the figure; exit 2 on bad input."""
    ap = argparse.ArgumentParser(prog="harness history", description="Each point's metric over many runs.")
    ap.add_argument("runs", nargs="*", help="run folders, or folders of run folders")
    ap.add_argument("--metric", default="avg_ts", help="avg_ts, best_ts or avg_ns for speed rows (default avg_ts)")
    ap.add_argument("--window", type=int, default=10, help="runs the band is drawn from (default 10)")
    ap.add_argument("--alpha", type=float, default=0.05, help="each side of the band is passed with this chance")
    ap.add_argument("--out", help="folder for history.md and history.png (default ./history-<time>)")
    a = parse_args(ap, argv, "harness")
    if isinstance(a, int):
        return a
    if not a.runs or a.metric not in METRICS or a.window < MIN_HISTORY or not 0 < a.alpha < 1:
        return fail("harness", f"history {' '.join(a.runs) or '(no run)'} --metric {a.metric} --window {a.window} "
                    f"--alpha {a.alpha}: give run folders, a metric of {', '.join(METRICS)}, a window of "
                    f"{MIN_HISTORY} or more, alpha between 0 and 1")
    try:
        runs = load_runs([Path(r) for r in a.runs])
    except FileNotFoundError as exc:
        return fail("harness", str(exc))
    if not runs:
        return fail("harness", f"{' '.join(a.runs)}: no run folders (each a folder with results.csv)")
    out = Path(a.out or f"history-{time.strftime('%Y%m%d-%H%M%S')}")
    print(write(runs, out, a.metric, a.window, a.alpha))
    print(f"wrote {out / 'history.md'} and {out / 'history.png'}", file=sys.stderr)
    return 0
