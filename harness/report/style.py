"""How every figure is labelled: the model and machine in the title, tick labels that never overlap.

Rows come as read from results.csv (dtype=str); `numeric` converts the columns a figure plots.
"""
from __future__ import annotations

import textwrap
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

WRAP = 14  # characters per level tick-label line
WRAP_UPRIGHT = 26  # upright ones


def numeric(df: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    out = df.copy()
    for c in cols:
        if c in out.columns:
            out[c] = pd.to_numeric(out[c], errors="coerce")
    return out


def _machines(df: pd.DataFrame) -> str:
    def one(r: Mapping[Hashable, Any]) -> str:
        device = r.get("gpu_info") or r.get("cpu_info") or "unknown machine"
        return f"{device} ({r.get('accel') or 'cpu'})"
    cols = [c for c in ("gpu_info", "cpu_info", "accel") if c in df.columns]
    seen = sorted({one(r) for r in df[cols].drop_duplicates().to_dict("records")}) if cols else []
    return "; ".join(seen[:3]) + (f" and {len(seen) - 3} more" if len(seen) > 3 else "") or "unknown machine"


def title(df: pd.DataFrame, what: str) -> str:
    """`what`, then the model(s) and the machine(s) the rows come from."""
    models = ", ".join(sorted(set(df.model_name))) if "model_name" in df.columns else ""
    return f"{what}\n{models} on {_machines(df)}"


def category_ticks(ax: Axes, labels: Sequence[str]) -> None:
    """Tick labels that never overlap: a few are wrapped and stay level; more than four are wrapped
    wider and stand upright (their width is then a line's height, whatever the text's length)."""
    upright = len(labels) > 4
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels([textwrap.fill(str(t), WRAP_UPRIGHT if upright else WRAP) for t in labels],
                       rotation=90 if upright else 0, fontsize=8 if len(labels) <= 12 else 6)


def panels(n: int, width: float = 5.0, height: float = 4.2) -> tuple[Figure, list[Axes]]:
    fig, axes = plt.subplots(1, n, figsize=(width * n, height), squeeze=False, layout="constrained")
    return fig, list(axes[0])


def finish(fig: Figure, df: pd.DataFrame, what: str) -> Figure:
    fig.suptitle(title(df, what), fontsize=10)
    return fig
