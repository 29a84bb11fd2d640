"""Markdown summary tables of chat, load and agent rows, each number with its spread or interval.

pp_tg rows keep table.py's llama-bench-like table. Configuration columns that are the same on
every row go to a one-line header; those that vary are columns.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from harness.report.plots_agent import success_table
from harness.report.plots_latency import SERIES, varying
from harness.report.style import numeric
from harness.report.table import markdown

CONSTANT = ("model_name", "quant", "backend", "mode", "reasoning_effort", "n_ctx", "n_gpu_layers", "host")


def _f(x: float | np.floating[Any] | None, digits: int = 1) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _pm(xs: Iterable[float], digits: int = 1) -> str:
    a = np.asarray([x for x in xs if x == x], dtype=float)
    if a.size == 0:
        return ""
    sd = a.std(ddof=1) if a.size > 1 else 0.0
    return f"{a.mean():.{digits}f} ± {sd:.{digits}f}"


def _table(header: list[str], lines: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(out + ["| " + " | ".join(cells) + " |" for cells in lines])


def _fixed(rows: pd.DataFrame, shown: list[str]) -> str:
    fixed = [c for c in CONSTANT if c in rows.columns and c not in shown and rows[c].nunique() == 1 and rows[c].iloc[0]]
    return " · ".join(f"{c}={rows[c].iloc[0]}" for c in fixed)


def chat(rows: pd.DataFrame, requests: pd.DataFrame | None) -> str:
    """Per configuration: TTFT, latency and decode rate over every request (mean ± stddev, p50, p90)."""
    ok = numeric(rows[(rows.workload == "chat") & (rows.status == "ok")],
                 ["ttft_ms", "e2e_ms", "avg_ts", "prompt_tokens", "render_ms", "parse_ms"])
    if ok.empty:
        return ""
    group = varying(ok, SERIES)
    reqs = requests[requests.workload == "chat"] if requests is not None and not requests.empty else None
    lines = []
    for key, g in (ok.groupby(group, sort=False) if group else [((), ok)]):
        key = key if isinstance(key, tuple) else (key,)
        r = reqs
        for c, v in zip(group, key):
            r = r[r[c] == v] if r is not None else None
        src, per_request = g, False
        if r is not None and not r.empty:  # samples kept: every request; else the prompts' means
            src, per_request = r, True
        ttft, e2e = src.ttft_ms.dropna(), src.e2e_ms.dropna()
        lines.append([*map(str, key), str(len(g)), str(len(src)) if per_request else "", _f(g.prompt_tokens.mean()),
                      _pm(ttft), _f(ttft.median()), _f(ttft.quantile(0.9)), _pm(e2e), _f(e2e.quantile(0.9)),
                      _pm(src.decode_ts if per_request else g.avg_ts), _f((g.render_ms + g.parse_ms).mean(), 2)])
    header = [*group, "prompts", "requests", "prompt tok", "TTFT ms", "TTFT p50", "TTFT p90", "latency ms",
              "latency p90", "decode t/s", "render+parse ms"]
    fixed = _fixed(ok, group)
    return (f"{fixed}\n\n" if fixed else "") + _table(header, lines)


def load(rows: pd.DataFrame, requests: pd.DataFrame | None) -> str:
    """One line per load point: throughput and TTFT / latency percentiles (vLLM bench-serve style)."""
    ok = numeric(rows[(rows.workload == "load") & (rows.status == "ok")],
                 ["concurrency", "completed_requests", "failed_requests", "request_throughput", "output_ts",
                  "ttft_p50_ms", "ttft_p90_ms", "ttft_p99_ms", "e2e_p50_ms", "e2e_p99_ms", "ttft_ms"])
    if ok.empty:
        return ""
    shown = [c for c in varying(ok, SERIES) if c != "concurrency"]
    lines = []
    for _, r in ok.sort_values("concurrency").iterrows():
        per = None
        if requests is not None and not requests.empty:
            per = requests[(requests.run_id == r.run_id) & (requests.point == r.point) & (requests.test == r.test)]
        ttft = _pm(per.ttft_ms) if per is not None and not per.empty else _f(r.ttft_ms)
        lines.append([*(str(r[c]) for c in shown), f"{r.concurrency:g}", f"{r.completed_requests:g}",
                      f"{r.failed_requests:g}", _f(r.request_throughput, 2), _f(r.output_ts), ttft,
                      _f(r.ttft_p50_ms), _f(r.ttft_p90_ms), _f(r.ttft_p99_ms), _f(r.e2e_p50_ms), _f(r.e2e_p99_ms)])
    header = [*shown, "clients", "done", "failed", "req/s", "output t/s", "TTFT ms", "TTFT p50", "TTFT p90",
              "TTFT p99", "latency p50", "latency p99"]
    fixed = _fixed(ok, shown)
    return (f"{fixed}\n\n" if fixed else "") + _table(header, lines)


def throughput(rows: pd.DataFrame, requests: pd.DataFrame | None = None) -> str:
    return markdown(rows)


def agent(rows: pd.DataFrame, requests: pd.DataFrame | None = None) -> str:
    t = success_table(rows)
    if t.empty:
        return ""
    lines = [[r.quant, r["mode"], str(r.n), _f(100 * r.success), f"{_f(100 * r.lo)} - {_f(100 * r.hi)}"]
             for _, r in t.iterrows()]
    return _table(["quant", "mode", "rows", "success %", "95% interval %"], lines)


def problems(rows: pd.DataFrame) -> str:
    """The rows that did not finish ok, with their configuration and the one-line reason."""
    bad = rows[rows.status != "ok"]
    if bad.empty:
        return ""
    shown = [c for c in ("point", "workload", "backend", "mode", "quant", "test") if c in bad.columns]
    return _table([*shown, "status", "error"],
                  [[*(str(r[c]) for c in shown), r.status, str(r.error)[:400].replace("|", "/")]
                   for _, r in bad.iterrows()])
