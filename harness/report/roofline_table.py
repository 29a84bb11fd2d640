"""The roofline section of report.md: each tg row against its memory-bandwidth bound."""
from __future__ import annotations

import pandas as pd

from harness.metrics import roofline


def section(df: pd.DataFrame, given_gbs: float | None = None) -> list[str]:
    """Markdown lines (empty when no tg row's GGUF is on this machine)."""
    rows = roofline.fill(df, given_gbs)
    rows = rows[rows.bytes_per_token != ""]
    if rows.empty:
        return []
    lines = ["### Roofline: tg against the memory-bandwidth bound", "",
             "Bytes per token: the weights a token reads (top-k experts only, one embedding row) plus the K/V "
             "at the test's mean depth; bound = bandwidth / bytes per token.", "",
             "| model | quant | test | t/s | MiB / token | bandwidth GB/s | bound t/s | % of bound |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows.to_dict("records"):
        b, bw = float(r["bytes_per_token"]), r["mem_bw_gbs"]
        bound = f"{float(bw) * 1e9 / b:.1f}" if bw else ""
        lines.append(f"| {r['model_name']} | {r['quant']} | {r['test']} | {float(r['avg_ts']):.2f} | {b / 2**20:.2f} | "
                     f"{bw} | {bound} | {r['roofline_pct']} |")
    return [*lines, ""]
