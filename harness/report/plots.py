"""Throughput figures of pp_tg rows: only those the data supports (an axis must vary to be plotted),
and never a mean over points that differ in another axis (facets.py: a panel per test, a series per
combination of the other columns that vary, or those held fixed and named in the title).

Each function takes the rows (a DataFrame read with dtype=str) and yields (name, figure) pairs;
report.py saves them as PNG and SVG and embeds them in report.md beside their tables. Chat and
load figures are in plots_latency.py, agent ones in plots_agent.py; `figures` yields them all.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from harness.report import plots_agent, plots_latency
from harness.report.facets import Facets, facet
from harness.report.style import category_ticks, finish, numeric, panels

AXES = {"n_ctx": "n_ctx (tokens)", "n_batch": "n_batch (tokens)", "n_ubatch": "n_ubatch (tokens)",
        "n_gpu_layers": "n_gpu_layers (layers offloaded)", "n_threads": "threads",
        "n_cpu_moe": "n_cpu_moe (layers whose experts stay on the CPU)"}
CATEGORIES = {"quant": "quantization", "load_mode": "load mode (mmap vs full load)", "backend": "backend",
              "flash_attn": "flash attention", "type_k": "K cache type",
              "tensor_buft_overrides": "tensor overrides (-ot)", "no_kv_offload": "KV cache in host memory"}
COLORS = {"pp": "tab:blue", "tg": "tab:orange", "pp+tg": "tab:purple"}


def _kind(test: str) -> str:
    return "pp" if test.startswith("pp") and "+tg" not in test else "tg" if test.startswith("tg") else "pp+tg"


def bench_rows(df: pd.DataFrame) -> pd.DataFrame:
    rows = df[(df.workload == "pp_tg") & (df.status == "ok")]
    rows = numeric(rows, ["avg_ts", "stddev_ts", *AXES])
    return rows.assign(kind=rows.test.map(_kind))


def _title(what: str, f: Facets) -> str:
    return f"{what} (± stddev)" + (f"; {f.note()}" if f.note() else "")


def _legend(ax: Axes, f: Facets) -> None:
    if f.split:
        ax.legend(title=" · ".join(f.split), fontsize=7, title_fontsize=7)


def _numeric_ticks(ax: Axes, xs: list[float]) -> None:
    """Powers of two spread over decades read best on a log2 axis; label every swept value."""
    if xs[0] > 0 and xs[-1] / xs[0] >= 8:
        ax.set_xscale("log", base=2)
    ax.set_xticks(xs, [f"{x:g}" for x in xs])
    ax.minorticks_off()
    ax.tick_params(axis="x", labelrotation=30 if len(xs) > 5 else 0, labelsize=8)


def by_axis(df: pd.DataFrame) -> Iterator[tuple[str, Figure]]:
    """A line per combination of the other varying columns against each numeric axis that varies."""
    rows = bench_rows(df)
    for axis, label in AXES.items():
        if axis == "n_ubatch" and not rows.empty and (rows.n_ubatch == rows.n_batch).all():
            continue  # swept together with n_batch: the same figure
        f = facet(rows, axis)
        if f is None:
            continue
        fig, axes = panels(len(f.panels))
        for ax, panel in zip(axes, f.panels):
            for s in panel.series:
                ax.errorbar(s.points.index, s.points.ts, yerr=s.points.sd, marker="o", capsize=3,
                            label=s.label or None)
            _numeric_ticks(ax, sorted({x for s in panel.series for x in s.points.index}))
            ax.set_xlabel(label)
            ax.set_ylabel(f"{panel.test} throughput (tokens/s)")
            _legend(ax, f)
        yield f"throughput_vs_{axis}", finish(fig, rows, _title(f"Throughput against {label}", f))


def by_category(df: pd.DataFrame) -> Iterator[tuple[str, Figure]]:
    """Grouped bars, a bar per combination of the other varying columns, for each category that varies."""
    rows = bench_rows(df)
    for col, label in CATEGORIES.items():
        f = facet(rows, col)
        if f is None:
            continue
        fig, axes = panels(len(f.panels))
        for ax, panel in zip(axes, f.panels):
            cats = sorted({x for s in panel.series for x in s.points.index}, key=str)
            width = 0.8 / len(panel.series)
            for i, s in enumerate(panel.series):
                p = s.points.reindex(cats)
                x = np.arange(len(cats)) + (i - (len(panel.series) - 1) / 2) * width
                color = COLORS[_kind(panel.test)] if len(panel.series) == 1 else f"C{i}"
                ax.bar(x, p.ts, width, yerr=p.sd.fillna(0), capsize=4, color=color, label=s.label or None)
            category_ticks(ax, [str(c) for c in cats])
            ax.set_xlabel(label)
            ax.set_ylabel(f"{panel.test} throughput (tokens/s)")
            _legend(ax, f)
        yield f"throughput_by_{col}", finish(fig, rows, _title(f"Throughput by {label}", f))


THROUGHPUT = (by_category, by_axis)


def throughput(df: pd.DataFrame, requests: pd.DataFrame | None = None) -> Iterator[tuple[str, Figure]]:
    for make in THROUGHPUT:
        yield from make(df)


def figures(df: pd.DataFrame, requests: pd.DataFrame | None = None) -> Iterator[tuple[str, Figure]]:
    """Every figure the rows (and their per-request samples, when given) support."""
    yield from throughput(df)
    yield from plots_latency.chat(df, requests)
    yield from plots_latency.load(df, requests)
    yield from plots_agent.success(df, requests)
