"""Memory per point in report.md and `harness compare`: the model, KV cache and compute buffers llama.cpp
allocated (mem_*_mb, per buffer type in mem_by_buft), GPU memory in use and peak RSS.

One table row and one bar per configuration (every CONFIG_KEYS column but the test agrees; a point's
pp and tg rows share their buffers): a bar never stands for several configurations.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from harness.models.buffers import from_breakdown
from harness.records.schema import CONFIG_KEYS
from harness.report import style

BUFFERS = (("mem_model_mb", "model"), ("mem_kv_mb", "KV cache"), ("mem_compute_mb", "compute"))
SHOWN = (*(c for c, _ in BUFFERS), "gpu_mem_used_mb", "peak_rss_mb")


def configurations(df: pd.DataFrame) -> pd.DataFrame:
    """The first row of each configuration that has buffer sizes, with a `label`: the configuration
    columns that vary among them (model, quant and backend always)."""
    if not any(c in df.columns for c, _ in BUFFERS):
        return pd.DataFrame()
    rows = df[(df[[c for c, _ in BUFFERS if c in df.columns]] != "").any(axis=1)]
    keys = [k for k in CONFIG_KEYS if k in rows.columns and k != "test"]
    rows = rows.drop_duplicates(subset=keys).reset_index(drop=True)
    varying = [k for k in keys if rows[k].nunique() > 1 and k not in ("model_name", "quant", "backend")]
    rows["label"] = [" ".join([str(r["model_name"]), str(r["quant"]), str(r["backend"]),
                               *(f"{k}={r[k]}" for k in varying if r[k] != "")]) for r in rows.to_dict("records")]
    return rows


def _cell(value: Any) -> str:
    try:
        return f"{float(value):.1f}"
    except (TypeError, ValueError):
        return ""


def section(df: pd.DataFrame) -> list[str]:
    """report.md lines: a table of each configuration's memory (MiB); nothing where no row has any."""
    rows = configurations(df)
    if rows.empty:
        return []
    cols = [c for c in SHOWN if c in rows.columns]
    head = ["configuration", *cols, "mem_by_buft"]
    lines = ["### Memory per configuration (MiB, as llama.cpp allocated at load)", "",
             "| " + " | ".join(head) + " |", "|---|" + "---:|" * len(cols) + "---|"]
    for r in rows.to_dict("records"):
        lines.append("| " + " | ".join([str(r["label"]), *(_cell(r.get(c)) for c in cols),
                                        str(r.get("mem_by_buft", "")).replace(";", "; ")]) + " |")
    return [*lines, ""]


def figures(df: pd.DataFrame) -> Iterator[tuple[str, Figure]]:
    """A stacked bar per configuration: model, KV cache and compute buffers (MiB)."""
    rows = configurations(df)
    if rows.empty:
        return
    rows = style.numeric(rows, [c for c, _ in BUFFERS]).fillna({c: 0.0 for c, _ in BUFFERS})
    fig, (ax,) = style.panels(1, width=max(5.0, 0.9 * len(rows) + 2))
    bottom = [0.0] * len(rows)
    for col, name in BUFFERS:
        vals = [float(v) for v in rows[col]] if col in rows.columns else [0.0] * len(rows)
        ax.bar(range(len(rows)), vals, bottom=bottom, label=name)
        bottom = [b + v for b, v in zip(bottom, vals)]
    style.category_ticks(ax, list(rows["label"]))
    ax.set_ylabel("MiB")
    ax.legend(fontsize=8)
    yield "memory", style.finish(fig, rows, "Memory per configuration: llama.cpp's buffers at load")


def compare_lines(points: Sequence[tuple[dict[str, Any], dict[int, dict[str, Any]]]],
                  run_labels: Sequence[str]) -> list[str]:
    """`harness compare`: each memory column of each run side by side, one line per configuration of
    the joined points (points: (configuration keys, run index -> row); a point's tests share buffers)."""
    cols = [c for c in SHOWN if any(str(r.get(c, "")) for _, rows in points for r in rows.values())]
    if not cols:
        return []
    keys = [k for k in CONFIG_KEYS if k != "test" and len({str(p[0].get(k)) for p in points}) > 1]
    configs: dict[str, dict[int, dict[str, Any]]] = {}
    for point_keys, rows in points:
        label = " ".join(f"{k}={point_keys[k]}" for k in keys if point_keys.get(k) not in (None, "")) or "all"
        for i, row in rows.items():
            configs.setdefault(label, {}).setdefault(i, row)
    head = ["configuration", *(f"{c} ({i + 1})" for c in cols for i in range(len(run_labels)))]
    lines = ["### Memory (MiB; `mem_*` as llama.cpp allocated at load)", "",
             "Runs: " + "; ".join(f"({i + 1}) {run}" for i, run in enumerate(run_labels)), "",
             "| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for label, rows in configs.items():
        cells = [_cell(rows[i].get(c)) if i in rows else "" for c in cols for i in range(len(run_labels))]
        if any(cells):
            lines.append("| " + " | ".join([label, *cells]) + " |")
    return [*lines, "", *_placement(configs, len(run_labels))]


def where(row: dict[str, Any], kind: str) -> str:
    """Which device holds a kind of buffer, from mem_by_buft: "Vulkan0 198.0, host 116.3"."""
    on = from_breakdown(str(row.get("mem_by_buft") or "")).on_devices(kind)
    return ", ".join(f"{dev} {mib:.1f}" for dev, mib in sorted(on.items(), key=lambda d: d[0] == "host"))


def _placement(configs: dict[str, dict[int, dict[str, Any]]], n_runs: int) -> list[str]:
    """Where each run put the weights and the KV cache (device or host, MiB): what an accelerator or an
    offload setting changes."""
    head = ["configuration", *(f"{kind} ({i + 1})" for kind in ("model", "KV cache") for i in range(n_runs))]
    lines = ["#### Where the buffers are (MiB per device; host: CPU, mapped, repacked and pinned host memory)", "",
             "| " + " | ".join(head) + " |", "|---|" + "---|" * (len(head) - 1)]
    for label, rows in configs.items():
        cells = [where(rows[i], kind) if i in rows else "" for kind in ("model", "kv") for i in range(n_runs)]
        if any(cells):
            lines.append("| " + " | ".join([label, *cells]) + " |")
    return [*lines, ""] if len(lines) > 4 else []
