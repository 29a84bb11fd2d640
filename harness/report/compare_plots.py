"""Figures of `harness compare`: per metric, grouped bars of every run's value (± stddev) over the
shared points, and below them each run's ratio to the first run with its 95% interval."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from harness.report.compare_join import METRICS, Metric, Point, Run, cell, point_labels, ratio
from harness.report.style import category_ticks


def _group(row: dict[str, Any]) -> str:
    """Panels keep quantities of one scale together: pp, tg and pp+tg apart; one per other workload."""
    if row.get("workload") != "pp_tg":
        return str(row.get("workload", ""))
    n_prompt, n_gen = row.get("n_prompt") not in ("", "0"), row.get("n_gen") not in ("", "0")
    return "pp" if not n_gen else "tg" if not n_prompt else "pp+tg"


def _panel(metric: Metric, runs: list[Run], pts: list[tuple[Point, str]], top: Axes, bottom: Axes,
           group: str) -> None:
    width = 0.8 / len(runs)
    x = np.arange(len(pts))
    for i, run in enumerate(runs):
        cells = [cell(metric, p.rows[i], run.samples) if i in p.rows else None for p, _ in pts]
        vals = [c.value if c else np.nan for c in cells]
        errs = [c.sd if c and c.sd is not None else 0 for c in cells]
        top.bar(x + (i - (len(runs) - 1) / 2) * width, vals, width, yerr=errs, capsize=3, label=run.label,
                color=f"C{i}")
        if i == 0:
            continue
        firsts = [cell(metric, p.rows[0], runs[0].samples) if 0 in p.rows else None for p, _ in pts]
        rs = [ratio(a, c) if a and c and a.value else (np.nan, None, None) for a, c in zip(firsts, cells)]
        mid = np.array([r for r, _, _ in rs])
        lo = np.array([r - lo_ if lo_ is not None else 0 for r, lo_, _ in rs])
        hi = np.array([hi_ - r if hi_ is not None else 0 for r, _, hi_ in rs])
        bottom.errorbar(x + (i - (len(runs) - 1) / 2) * width, mid, yerr=[lo, hi], fmt="o", capsize=4,
                        color=f"C{i}", label=f"{run.label} / {runs[0].label}")
    bottom.axhline(1.0, color="gray", lw=1, ls="--")
    top.set_ylabel(f"{group} {metric.label}\n({metric.unit})" if group else f"{metric.label} ({metric.unit})")
    bottom.set_ylabel(f"ratio to {runs[0].label}\n(95% interval)")
    top.tick_params(labelbottom=False)  # the ratio panel below shares the x axis and names the points
    category_ticks(bottom, [lab for _, lab in pts])
    top.legend(fontsize=7, title="run", title_fontsize=7)
    bottom.set_xlabel("point (configuration)")


def figures(runs: list[Run], points: list[Point]) -> Iterator[tuple[str, Figure]]:
    labels = point_labels(points)
    for metric in METRICS:
        groups: dict[str, list[tuple[Point, str]]] = {}
        for p, lab in zip(points, labels):
            have = [i for i in p.rows if cell(metric, p.rows[i], runs[i].samples) is not None]
            if len(have) > 1:
                groups.setdefault(_group(next(iter(p.rows.values()))), []).append((p, lab))
        if not groups:
            continue
        widths = [max(4.0, 0.45 * len(pts) * len(runs) + 1.5) for pts in groups.values()]
        fig, axes = plt.subplots(2, len(groups), figsize=(sum(widths), 7.5), squeeze=False, sharex="col",
                                 layout="constrained", gridspec_kw={"width_ratios": widths, "height_ratios": [3, 2]})
        for col, (group, pts) in enumerate(groups.items()):
            _panel(metric, runs, pts, axes[0][col], axes[1][col], group)
        models = ", ".join(sorted({str(p.keys.get("model_name")) for p in points if p.keys.get("model_name")}))
        fig.suptitle(f"{metric.label}: {' vs '.join(r.label for r in runs)}\n{models} (bars ± stddev)", fontsize=10)
        yield f"compare_{metric.column}", fig
