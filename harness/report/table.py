"""The llama-bench-like markdown table of a results.csv."""
from __future__ import annotations

from pathlib import Path

import pandas as pd


def _size(n: str) -> str:
    b = _num(n)
    if b is None:
        return ""
    return f"{b / 2**30:.2f} GiB" if b >= 2**30 else f"{b / 2**20:.2f} MiB"


def _params(n: str) -> str:
    p = _num(n)
    if p is None:
        return ""
    return f"{p / 1e9:.2f} B" if p >= 1e9 else f"{p / 1e6:.2f} M"


def _num(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _ts(row) -> str:
    if row["status"] != "ok":
        return f"{row['status']}: {row['error']}"[:80]
    avg, sd = _num(row["avg_ts"]), _num(row["stddev_ts"])
    if avg is None:
        return ""
    return f"{avg:.2f} ± {sd:.2f}" if sd is not None else f"{avg:.2f}"


def markdown(df: pd.DataFrame) -> str:
    """Columns that vary across the rows are shown; constant ones go to a one-line header."""
    cols = ["model_name", "quant", "model_size", "model_n_params", "backend", "mode", "n_threads",
            "n_ctx", "n_batch", "n_ubatch", "load_mode", "flash_attn", "type_k", "type_v", "n_gpu_layers"]
    cols = [c for c in cols if c in df.columns]
    varying = [c for c in cols if df[c].nunique(dropna=False) > 1]
    fixed = [c for c in cols if c not in varying and c not in ("model_size", "model_n_params")]
    shown = ["model_name", "quant", "model_size", "model_n_params"] + [
        c for c in varying if c not in ("model_name", "quant", "model_size", "model_n_params")]
    header = shown + ["test", "t/s"]
    lines = []
    if len(df) and fixed:
        lines.append(" · ".join(f"{c}={df[c].iloc[0]}" for c in fixed) + "\n")
    lines += ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if h == "t/s" else "---" for h in header) + "|"]
    for _, r in df.iterrows():
        cells = [_size(r[c]) if c == "model_size" else _params(r[c]) if c == "model_n_params" else str(r[c])
                 for c in shown]
        lines.append("| " + " | ".join(cells + [str(r["test"]), _ts(r)]) + " |")
    return "\n".join(lines)


def markdown_file(csv_path: Path) -> str:
    return markdown(pd.read_csv(csv_path, dtype=str, keep_default_na=False))
