"""Throughput figures of pp_tg rows: only those the data supports (an axis must vary to be plotted).

Each function takes the rows (a DataFrame read with dtype=str) and yields (name, figure) pairs;
report.py saves them as PNG and SVG and embeds them in report.md beside their tables. Chat and
load figures are in plots_latency.py, agent ones in plots_agent.py; `figures` yields them all.
"""
from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from harness.report import plots_agent, plots_latency
from harness.report.style import category_ticks, finish, numeric, panels

AXES = {"n_ctx": "n_ctx (tokens)", "n_batch": "n_batch (tokens)", "n_ubatch": "n_ubatch (tokens)",
        "n_gpu_layers": "n_gpu_layers (layers offloaded)", "n_threads": "threads"}
CATEGORIES = {"load_mode": "load mode (mmap vs full load)", "backend": "backend", "flash_attn": "flash attention",
              "type_k": "K cache type"}
COLORS = {"pp": "tab:blue", "tg": "tab:orange", "pp+tg": "tab:purple"}


def _kind(test: str) -> str:
    return "pp" if test.startswith("pp") and "+tg" not in test else "tg" if test.startswith("tg") else "pp+tg"


def bench_rows(df: pd.DataFrame) -> pd.DataFrame:
    rows = df[(df.workload == "pp_tg") & (df.status == "ok")]
    rows = numeric(rows, ["avg_ts", "stddev_ts", *AXES])
    return rows.assign(kind=rows.test.map(_kind))


def _stat(rows: pd.DataFrame, by: str) -> pd.DataFrame:
    return rows.groupby(by, sort=False).agg(ts=("avg_ts", "mean"), sd=("stddev_ts", "mean"))


def by_quant(df: pd.DataFrame) -> Iterator[tuple[str, Figure]]:
    rows = bench_rows(df)
    if rows.empty:
        return
    kinds = sorted(set(rows.kind))
    fig, axes = panels(len(kinds))
    for ax, kind in zip(axes, kinds):
        g = _stat(rows[rows.kind == kind], "quant")
        ax.bar(range(len(g)), g.ts, yerr=g.sd, capsize=4, color=COLORS[kind])
        category_ticks(ax, list(g.index))
        ax.set_xlabel("quantization")
        ax.set_ylabel(f"{kind} throughput (tokens/s)")
    yield "throughput_by_quant", finish(fig, rows, "Throughput by quantization (mean over the other axes, ± stddev)")


def _numeric_ticks(ax: Axes, xs: list[float]) -> None:
    """Powers of two spread over decades read best on a log2 axis; label every swept value."""
    if xs[0] > 0 and xs[-1] / xs[0] >= 8:
        ax.set_xscale("log", base=2)
    ax.set_xticks(xs, [f"{x:g}" for x in xs])
    ax.minorticks_off()
    ax.tick_params(axis="x", labelrotation=30 if len(xs) > 5 else 0, labelsize=8)


def by_axis(df: pd.DataFrame) -> Iterator[tuple[str, Figure]]:
    rows = bench_rows(df)
    for axis, label in AXES.items():
        if rows.empty or rows[axis].nunique() < 2:
            continue
        if axis == "n_ubatch" and (rows.n_ubatch == rows.n_batch).all():
            continue  # swept together with n_batch: the same figure
        kinds = sorted(set(rows.kind))
        fig, axes = panels(len(kinds))
        for ax, kind in zip(axes, kinds):
            for quant, g in rows[rows.kind == kind].groupby("quant", sort=False):
                line = _stat(g, axis).sort_index()
                ax.errorbar(line.index, line.ts, yerr=line.sd, marker="o", capsize=3, label=quant)
            _numeric_ticks(ax, sorted(rows[axis].dropna().unique()))
            ax.set_xlabel(label)
            ax.set_ylabel(f"{kind} throughput (tokens/s)")
            ax.legend(title="quant", fontsize=8)
        yield f"throughput_vs_{axis}", finish(fig, rows, f"Throughput against {label} (± stddev)")


def by_category(df: pd.DataFrame) -> Iterator[tuple[str, Figure]]:
    rows = bench_rows(df)
    for col, label in CATEGORIES.items():
        if rows.empty or rows[col].nunique() < 2:
            continue
        kinds = sorted(set(rows.kind))
        fig, axes = panels(len(kinds))
        for ax, kind in zip(axes, kinds):
            g = _stat(rows[rows.kind == kind], col)
            ax.bar(range(len(g)), g.ts, yerr=g.sd, capsize=4, color=COLORS[kind])
            category_ticks(ax, [str(i) for i in g.index])
            ax.set_xlabel(label)
            ax.set_ylabel(f"{kind} throughput (tokens/s)")
        yield f"throughput_by_{col}", finish(fig, rows, f"Throughput by {label} (mean over the other axes, ± stddev)")


THROUGHPUT = (by_quant, by_axis, by_category)


def throughput(df: pd.DataFrame, requests: pd.DataFrame | None = None) -> Iterator[tuple[str, Figure]]:
    for make in THROUGHPUT:
        yield from make(df)


def figures(df: pd.DataFrame, requests: pd.DataFrame | None = None) -> Iterator[tuple[str, Figure]]:
    """Every figure the rows (and their per-request samples, when given) support."""
    yield from throughput(df)
    yield from plots_latency.chat(df, requests)
    yield from plots_latency.load(df, requests)
    yield from plots_agent.success(df, requests)
