"""report.md's "Warnings" section: rows whose repetitions disagree (CV above the limit) with their
likely causes, and the tests during which other processes took more than a set share of the CPUs."""
from __future__ import annotations

from typing import Any

import pandas as pd

from harness.metrics import stability
from harness.metrics.stats import CV_LIMIT
from harness.records.busy import BUSY_LIMIT
from harness.records.merge import records, sample_key
from harness.records.schema import CONFIG_KEYS

SHOWN = ("point", "test")  # then the configuration columns that vary among the flagged rows


def _config(rows: list[dict[str, Any]]) -> list[str]:
    return [k for k in CONFIG_KEYS if k not in SHOWN and len({str(r.get(k, "")) for r in rows}) > 1]


def _table(header: list[str], lines: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(c.replace("|", "/") for c in cells) + " |" for cells in lines)]


def _num(value: Any, fmt: str) -> str:
    x = stability.number(value)
    return "" if x is None else format(x, fmt)


def unstable_lines(df: pd.DataFrame, samples: dict[tuple[str, ...], dict[str, Any]],
                   cv_limit: float = CV_LIMIT) -> list[str]:
    """Markdown lines listing the ok rows whose CV of per-repetition t/s is above `cv_limit`."""
    ok = [r for r in records(df) if r.get("status") == "ok" and r.get("level", "") in ("", None)]
    flagged = [(r, xs) for r in ok
               if stability.unstable(r, xs := samples.get(sample_key(r), {}).get("samples_ts", []), cv_limit)]
    if not flagged:
        return []
    cols = _config([r for r, _ in flagged])
    lines = [[*(str(r.get(k, "")) for k in (*SHOWN, *cols)), _num(r.get("avg_ts"), ".2f"),
              f"{stability.row_cv(r, xs):.1%}", "; ".join(stability.causes(r, xs, cv_limit))] for r, xs in flagged]
    return [f"**Unstable results**: {len(flagged)} of {len(ok)} rows vary more than a CV of {cv_limit:.0%} over "
            "their repetitions (stddev / mean of the per-repetition t/s); read them with care.", "",
            *_table([*SHOWN, *cols, "t/s", "CV", "likely cause"], lines), ""]


def busy_lines(df: pd.DataFrame, limit: float = BUSY_LIMIT) -> list[str]:
    """Markdown lines listing the tests during which others took more than `limit` of the CPUs."""
    rows = [r for r in records(df) if stability.busy(r, limit)]
    if not rows:
        return []
    lines = [[str(r.get("point", "")), str(r.get("test", "")), _num(r.get("other_cpu_pct"), ".0f"),
              _num(r.get("load_avg"), ".2f"),
              " -> ".join(x for x in (_num(r.get("cpu_mhz_start"), ".0f"), _num(r.get("cpu_mhz_end"), ".0f")) if x)]
             for r in rows]
    points = len({str(r.get("point", "")) for r in rows})
    return [f"**Busy machine**: other processes took more than {limit:.0%} of the CPUs during {len(rows)} test(s) "
            f"of {points} point(s); their timings are likely slow and noisy.", "",
            *_table(["point", "test", "others' CPU %", "load average", "CPU MHz"], lines), ""]


def section(df: pd.DataFrame, samples: dict[tuple[str, ...], dict[str, Any]], cv_limit: float = CV_LIMIT) -> list[str]:
    body = unstable_lines(df, samples, cv_limit) + busy_lines(df)
    return ["### Warnings", "", *body] if body else []
