"""Figures of a results table: only those its data supports (an axis must vary to be plotted).

Each function takes the rows (a DataFrame read with dtype=str) and returns (name, figure) pairs;
report.py saves them as PNG and SVG and embeds them in report.md.
"""
from __future__ import annotations

from typing import Iterator

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

AXES = {"n_ctx": "n_ctx (tokens)", "n_batch": "n_batch (tokens)", "n_ubatch": "n_ubatch (tokens)",
        "n_gpu_layers": "n_gpu_layers", "n_threads": "threads"}
CATEGORIES = {"load_mode": "load mode (mmap vs full load)", "backend": "backend", "flash_attn": "flash attention",
              "type_k": "K cache type"}


def _num(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    out = df.copy()
    for c in cols:
        out[c] = pd.to_numeric(out[c], errors="coerce")
    return out


def _title(df: pd.DataFrame, what: str) -> str:
    model = ", ".join(sorted(set(df.model_name)))
    return f"{what}\n{model} on {df.cpu_info.iloc[0]} ({df.accel.iloc[0]})"


def _kind(test: str) -> str:
    return "pp" if test.startswith("pp") and "+tg" not in test else "tg" if test.startswith("tg") else "pp+tg"


def bench_rows(df: pd.DataFrame) -> pd.DataFrame:
    rows = df[(df.workload == "pp_tg") & (df.status == "ok")]
    rows = _num(rows, ["avg_ts", "stddev_ts", *AXES])
    return rows.assign(kind=rows.test.map(_kind))


def by_quant(df: pd.DataFrame) -> Iterator[tuple[str, plt.Figure]]:
    rows = bench_rows(df)
    if rows.empty:
        return
    kinds = sorted(set(rows.kind))
    fig, axes = plt.subplots(1, len(kinds), figsize=(5 * len(kinds), 4), squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        g = rows[rows.kind == kind].groupby("quant", sort=False).agg(ts=("avg_ts", "mean"), sd=("stddev_ts", "mean"))
        ax.bar(g.index, g.ts, yerr=g.sd, capsize=4, color="tab:blue" if kind == "pp" else "tab:orange")
        ax.set_xlabel("quantization")
        ax.set_ylabel(f"{kind} throughput (tokens/s)")
        ax.tick_params(axis="x", rotation=30)
    fig.suptitle(_title(rows, "Throughput by quantization (mean over the other axes, ± stddev)"))
    fig.tight_layout()
    yield "throughput_by_quant", fig


def by_axis(df: pd.DataFrame) -> Iterator[tuple[str, plt.Figure]]:
    rows = bench_rows(df)
    for axis, label in AXES.items():
        if rows.empty or rows[axis].nunique() < 2:
            continue
        if axis == "n_ubatch" and (rows.n_ubatch == rows.n_batch).all():
            continue  # swept together with n_batch: the same figure
        kinds = sorted(set(rows.kind))
        fig, axes = plt.subplots(1, len(kinds), figsize=(5 * len(kinds), 4), squeeze=False)
        for ax, kind in zip(axes[0], kinds):
            sub = rows[rows.kind == kind]
            for quant, g in sub.groupby("quant", sort=False):
                line = g.groupby(axis).agg(ts=("avg_ts", "mean"), sd=("stddev_ts", "mean")).sort_index()
                ax.errorbar(line.index, line.ts, yerr=line.sd, marker="o", capsize=3, label=quant)
            ax.set_xlabel(label)
            ax.set_ylabel(f"{kind} throughput (tokens/s)")
            ax.legend(title="quant", fontsize=8)
        fig.suptitle(_title(rows, f"Throughput against {axis}"))
        fig.tight_layout()
        yield f"throughput_vs_{axis}", fig


def by_category(df: pd.DataFrame) -> Iterator[tuple[str, plt.Figure]]:
    rows = bench_rows(df)
    for col, label in CATEGORIES.items():
        if rows.empty or rows[col].nunique() < 2:
            continue
        g = rows.groupby(["kind", col]).agg(ts=("avg_ts", "mean"), sd=("stddev_ts", "mean")).reset_index()
        kinds = sorted(set(g.kind))
        fig, axes = plt.subplots(1, len(kinds), figsize=(5 * len(kinds), 4), squeeze=False)
        for ax, kind in zip(axes[0], kinds):
            sub = g[g.kind == kind]
            ax.bar(sub[col].astype(str), sub.ts, yerr=sub.sd, capsize=4)
            ax.set_xlabel(label)
            ax.set_ylabel(f"{kind} throughput (tokens/s)")
        fig.suptitle(_title(rows, f"Throughput by {label}"))
        fig.tight_layout()
        yield f"throughput_by_{col}", fig


def chat_modes(df: pd.DataFrame) -> Iterator[tuple[str, plt.Figure]]:
    rows = _num(df[(df.workload == "chat") & (df.status == "ok")], ["ttft_ms", "e2e_ms", "prompt_tokens"])
    if rows.empty or rows["mode"].nunique() < 2:
        return
    metrics = [("ttft_ms", "time to first token (ms)"), ("e2e_ms", "request latency (ms)"),
               ("prompt_tokens", "prompt tokens")]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    g = rows.groupby(["backend", "mode"])[[m for m, _ in metrics]].mean().reset_index()
    labels = [f"{b}\n{m}" for b, m in zip(g.backend, g["mode"])]
    for ax, (metric, label) in zip(axes, metrics):
        ax.bar(labels, g[metric], color=["tab:gray" if m == "raw" else "tab:green" for m in g["mode"]])
        ax.set_ylabel(label)
    fig.suptitle(_title(rows, "Raw vs Harmony (mean over prompts)"))
    fig.tight_layout()
    yield "raw_vs_harmony", fig


FIGURES = (by_quant, by_axis, by_category, chat_modes)


def figures(df: pd.DataFrame) -> Iterator[tuple[str, plt.Figure]]:
    for make in FIGURES:
        yield from make(df)
