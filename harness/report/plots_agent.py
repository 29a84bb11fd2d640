"""Agent figures: success by quant and mode, when the results hold agent rows.

The hook for `workload=agent`: rows with workload == "agent", status ok and a `success` column
(0..1 per row) are averaged per quant and mode, with a 95% interval (Wilson's for 0/1 outcomes).
When the rows carry `level`, only the trial rows (one 0/1 outcome each) are used. Nothing is drawn
without such rows.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from harness.metrics.stats import share_interval
from harness.report.style import category_ticks, finish, numeric, panels


def agent_rows(df: pd.DataFrame) -> pd.DataFrame:
    if "success" not in df.columns or "workload" not in df.columns:
        return df.iloc[0:0]
    rows = numeric(df[(df.workload == "agent") & (df.status == "ok")], ["success"])
    if "level" in rows.columns and (rows.level == "trial").any():
        rows = rows[rows.level == "trial"]  # one 0/1 outcome per trial; task and suite rows summarise them
    return rows[rows.success.notna()]


def success_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per quant and mode: rows, mean success and its 95% interval (fractions)."""
    rows = agent_rows(df)
    out = []
    for (quant, mode), g in rows.groupby(["quant", "mode"], sort=False):
        p, lo, hi = share_interval(g.success.to_numpy())
        out.append({"quant": quant, "mode": mode, "n": len(g), "success": p, "lo": lo, "hi": hi})
    return pd.DataFrame(out, columns=["quant", "mode", "n", "success", "lo", "hi"])


def success(df: pd.DataFrame, requests: pd.DataFrame | None = None) -> Iterator[tuple[str, Figure]]:
    table = success_table(df)
    if table.empty:
        return
    quants, modes = list(dict.fromkeys(table.quant)), list(dict.fromkeys(table["mode"]))
    fig, (ax,) = panels(1, width=max(5.0, 1.2 * len(quants) * len(modes) + 2))
    width = 0.8 / len(modes)
    for i, mode in enumerate(modes):
        t = table[table["mode"] == mode].set_index("quant").reindex(quants)
        x = np.arange(len(quants)) + (i - (len(modes) - 1) / 2) * width
        err = np.clip(np.vstack([t.success - t.lo, t.hi - t.success]), 0, None) * 100  # float noise at 0 or 1
        ax.bar(x, t.success * 100, width, yerr=err, capsize=4, label=f"mode={mode}")
        for xi, hi, n in zip(x, t.hi, t.n):
            if hi == hi:
                ax.annotate(f"n={int(n)}", (xi, hi * 100 + 1), ha="center", va="bottom", fontsize=7)
    category_ticks(ax, quants)
    ax.set_ylim(0, 110)
    ax.set_xlabel("quantization")
    ax.set_ylabel("task success (% of trials, 95% interval)")
    ax.legend(fontsize=8)
    yield "agent_success", finish(fig, agent_rows(df), "Agent success by quantization and mode")
