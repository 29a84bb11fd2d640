"""The llama-bench-like markdown table of a results.csv."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from harness.metrics.stability import row_cv
from harness.metrics.stats import CV_LIMIT


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


def _ts(row: pd.Series, cv_limit: float = CV_LIMIT) -> str:
    if row["status"] != "ok":
        return f"{row['status']}: {row['error']}"[:80]
    avg, sd = _num(row["avg_ts"]), _num(row["stddev_ts"])
    if avg is None:
        return ""
    return (f"{avg:.2f} ± {sd:.2f}" if sd is not None else f"{avg:.2f}") + _flag(row, cv_limit)


def _flag(row: pd.Series, cv_limit: float) -> str:
    """` (CV n% !)` for an ok row whose repetitions vary more than the limit."""
    cv = row_cv(row.to_dict()) if row["status"] == "ok" else None
    return f" (CV {cv:.0%} !)" if cv is not None and cv > cv_limit else ""


def _pct(text: str) -> str:
    v = _num(text)
    return "" if v is None or v != v else f"{100 * v:.0f}%"


def _turns(text: str) -> str:
    v = _num(text)
    return f"{v:.1f}" if v is not None else ""


def _seconds(ms: str) -> str:
    v = _num(ms)
    return f"{v / 1000:.1f} s" if v is not None else ""


AGENT: dict[str, Callable[[str], str]] = {
    "success": _pct, "pass_at_1": _pct, "pass_at_k": _pct, "pass_hat_k": _pct, "valid_call_rate": _pct,
    "turns": _turns, "e2e_ms": _seconds}
AGENT_HEADER = ["success", "pass@1", "pass@k", "pass^k", "valid calls", "turns", "e2e"]


def markdown(df: pd.DataFrame, cv_limit: float = CV_LIMIT) -> str:
    """Columns that vary across the rows are shown; constant ones go to a one-line header. A t/s whose
    repetitions' CV is above `cv_limit` is flagged `(CV n% !)`, with a note under the table.

    Agent rows are summarised per task and for the suite (success, pass@k, valid calls) in a
    table of their own; their trial rows stay in results.csv."""
    if "workload" in df.columns and (df.workload == "agent").any():
        agent = df[(df.workload == "agent") & (df.get("level", "") != "trial")]
        rest = df[df.workload != "agent"]
        return "\n\n".join(t for t in (_markdown(rest, cv_limit) if len(rest) else "",
                                        _markdown(agent, cv_limit, agent=True)) if t)
    return _markdown(df, cv_limit)


def _markdown(df: pd.DataFrame, cv_limit: float = CV_LIMIT, agent: bool = False) -> str:
    cols = ["model_name", "quant", "model_size", "model_n_params", "backend", "mode", "n_threads",
            "n_ctx", "n_batch", "n_ubatch", "load_mode", "flash_attn", "type_k", "type_v", "n_gpu_layers",
            "n_cpu_moe", "tensor_buft_overrides", "no_kv_offload", "split_mode", "main_gpu", "tensor_split",
            "cache_prompt"]
    cols = [c for c in cols if c in df.columns]
    varying = [c for c in cols if df[c].nunique(dropna=False) > 1]
    fixed = [c for c in cols if c not in varying and c not in ("model_size", "model_n_params")]
    shown = ["model_name", "quant", "model_size", "model_n_params"] + [
        c for c in varying if c not in ("model_name", "quant", "model_size", "model_n_params")]
    header = shown + ["test"] + (AGENT_HEADER if agent else ["t/s"])
    lines = []
    if len(df) and fixed:
        lines.append(" · ".join(f"{c}={df[c].iloc[0]}" for c in fixed) + "\n")
    lines += ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if h == "t/s" else "---" for h in header) + "|"]
    for _, r in df.iterrows():
        cells = [_size(r[c]) if c == "model_size" else _params(r[c]) if c == "model_n_params" else str(r[c])
                 for c in shown]
        values = [f(str(r.get(c, ""))) for c, f in AGENT.items()] if agent else [_ts(r, cv_limit)]
        lines.append("| " + " | ".join([*cells, str(r["test"]), *values]) + " |")
    flagged = sum(bool(_flag(r, cv_limit)) for _, r in df.iterrows())
    if flagged and not agent:
        lines.append(f"\n{flagged} row(s) flagged `(CV n% !)`: unstable, the repetitions' coefficient of variation is "
                     f"above {cv_limit:.0%}; report.md lists the likely causes")
    return "\n".join(lines)


def markdown_file(csv_path: Path, cv_limit: float = CV_LIMIT) -> str:
    return markdown(pd.read_csv(csv_path, dtype=str, keep_default_na=False), cv_limit)
