"""Chat and load figures: raw vs Harmony, in-process vs HTTP, latency CDFs, load against concurrency.

`rows` are result rows (dtype=str); `requests` is report/requests.py's one-row-per-request frame
(None or empty when the run kept no samples: the CDFs are then left out).
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from harness.report.facets import also_varying
from harness.report.style import category_ticks, finish, numeric, panels

# Configuration columns that tell series apart when they vary (first ones name the bars).
SERIES = ("backend", "mode", "reasoning_effort", "quant", "model_name", "concurrency", "n_gpu_layers", "host")
CHAT_METRICS = {"ttft_ms": "time to first token (ms)", "e2e_ms": "request latency, end to end (ms)",
                "prompt_tokens": "prompt tokens (as sent)", "avg_ts": "decode rate after the first token (tokens/s)"}
CDF_METRICS = {"ttft_ms": "time to first token (ms)", "e2e_ms": "request latency, end to end (ms)"}
LOAD_METRICS = {"output_ts": "output throughput, all clients (tokens/s)",
                "request_throughput": "request throughput (requests/s)",
                "ttft_p50_ms": "time to first token, p50 and p99 (ms)",
                "e2e_p50_ms": "request latency, p50 and p99 (ms)"}


def varying(df: pd.DataFrame, cols: Sequence[str] = SERIES) -> list[str]:
    """Columns with two or more distinct values that are set (reasoning_effort is empty for raw)."""
    return [c for c in cols if c in df.columns and df[c][df[c] != ""].nunique() > 1]


def _label(r: pd.Series, cols: Sequence[str]) -> str:
    return " · ".join(f"{r[c]}" if c in ("backend", "mode", "quant") else f"{c}={r[c]}" for c in cols)


def _bars(rows: pd.DataFrame, group: list[str], metrics: list[str], name: str, what: str) -> tuple[str, Figure]:
    """One panel per metric: mean over prompts per group, error bars ± stddev over prompts."""
    grouped = rows.groupby(group, sort=False)[metrics]
    mean, sd = grouped.mean(), grouped.std().fillna(0)
    keys = mean.index.to_frame(index=False)
    labels = [_label(r, group) for _, r in keys.iterrows()]
    modes = list(keys["mode"]) if "mode" in group else ["" for _ in labels]
    colors = ["tab:green" if m == "harmony" else "tab:gray" if m == "raw" else "tab:blue" for m in modes]
    fig, axes = panels(len(metrics), width=4.6)
    for ax, metric in zip(axes, metrics):
        low = np.minimum(sd[metric], mean[metric].clip(lower=0))  # latencies and counts stay >= 0
        ax.bar(range(len(mean)), mean[metric], yerr=[low, sd[metric]], capsize=4, color=colors)
        category_ticks(ax, labels)
        ax.set_xlabel(" · ".join(group))
        ax.set_ylabel(CHAT_METRICS[metric])
    return name, finish(fig, rows, what)


def chat(rows: pd.DataFrame, requests: pd.DataFrame | None = None) -> Iterator[tuple[str, Figure]]:
    ok = numeric(rows[(rows.workload == "chat") & (rows.status == "ok")], list(CHAT_METRICS))
    if ok.empty:
        return
    group: list[str] = [c for c in ("backend", "mode", "reasoning_effort", "quant") if c in varying(ok)]
    group += also_varying(ok, group)  # never a mean over prompts of different configurations
    if "mode" in group:
        yield _bars(ok, group, ["ttft_ms", "e2e_ms", "prompt_tokens"], "raw_vs_harmony",
                    "Raw vs Harmony (mean over prompts, ± stddev over prompts)")
    elif "backend" in group:
        yield _bars(ok, group, ["ttft_ms", "e2e_ms", "avg_ts"], "chat_by_backend",
                    "In-process vs HTTP, chat (mean over prompts, ± stddev over prompts)")
    yield from latency_cdf(requests, "chat")


def latency_cdf(requests: pd.DataFrame | None, workload: str) -> Iterator[tuple[str, Figure]]:
    """Empirical CDFs of per-request TTFT and latency, one line per configuration that varies."""
    if requests is None or requests.empty:
        return
    reqs = requests[requests.workload == workload]
    if len(reqs) < 2:
        return
    series = varying(reqs)
    groups = list(reqs.groupby(series, sort=False)) if series else [((), reqs)]
    fig, axes = panels(len(CDF_METRICS), width=5.6)
    for ax, (metric, label) in zip(axes, CDF_METRICS.items()):
        values = reqs[metric].dropna()
        for _, g in groups:
            x = np.sort(g[metric].dropna().to_numpy())
            if x.size:  # a step up at each request, from 0 below the fastest one
                ax.step(np.r_[x[0], x], np.arange(x.size + 1) / x.size, where="post",
                        label=f"{_label(g.iloc[0], series) if series else 'all requests'} (n={x.size})")
        if len(values) and values.min() > 0 and values.max() / values.min() > 20:
            ax.set_xscale("log")
        for q in (0.5, 0.9):
            ax.axhline(q, color="0.8", lw=0.8, ls=":")
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(label)
        ax.set_ylabel("fraction of requests at or below")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    yield f"latency_cdf_{workload}", finish(fig, reqs, f"Latency CDF, {workload} (every request)")


def load(rows: pd.DataFrame, requests: pd.DataFrame | None = None) -> Iterator[tuple[str, Figure]]:
    ok = numeric(rows[(rows.workload == "load") & (rows.status == "ok")],
                 ["concurrency", *LOAD_METRICS, "ttft_p99_ms", "e2e_p99_ms"])
    if ok.empty:
        return
    if ok.concurrency.nunique() > 1:
        yield _vs_concurrency(ok)
    yield from latency_cdf(requests, "load")


def _vs_concurrency(ok: pd.DataFrame) -> tuple[str, Figure]:
    series = [c for c in varying(ok) if c != "concurrency"]
    series += also_varying(ok, [*series, "concurrency"])
    groups = list(ok.groupby(series, sort=False)) if series else [((), ok)]
    fig, axes = panels(len(LOAD_METRICS), width=4.4)
    xs = sorted(ok.concurrency.unique())
    for ax, (metric, label) in zip(axes, LOAD_METRICS.items()):
        tail = metric.replace("_p50_", "_p99_")
        for _, g in groups:
            line = g.groupby("concurrency")[list(dict.fromkeys([metric, tail]))].mean()
            name = _label(g.iloc[0], series) if series else ""
            ax.plot(line.index, line[metric], marker="o",
                    label=f"{name} p50".strip() if tail != metric else name or None)
            if tail != metric:
                ax.plot(line.index, line[tail], marker="x", ls="--", label=f"{name} p99".strip())
        ax.set_xticks(xs, [f"{x:g}" for x in xs])
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[1]:
            ax.legend(fontsize=7)
    return "load_vs_concurrency", finish(fig, ok, "Served load against concurrency (vLLM bench-serve style)")
