"""Whether a row's repetitions agree (its CV against a limit) and, when they do not, the likely causes
read from the row's own columns and per-repetition samples."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from harness.metrics.stats import CV_LIMIT, cv
from harness.records.busy import BUSY_LIMIT

FEW_REPETITIONS = 5   # below this many repetitions the CV is itself a rough estimate
SHORT_TEST_NS = 5e6   # repetitions shorter than 5 ms: timer and scheduler noise weigh in
FREQ_DROP = 0.05      # the CPU clock falling by more than this during a test
TREND_RHO = -0.8      # repetitions slowing one after another (Spearman's rho against their order)


def number(value: Any) -> float | None:
    """A column's value as a float; None when empty, not a number or nan."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def row_cv(row: Mapping[Any, Any], samples_ts: Sequence[float] = ()) -> float | None:
    """The row's CV of per-repetition t/s: from its samples, else cv_ts, else stddev_ts / avg_ts
    (rows written before cv_ts, imported llama-bench rows); None when it has no spread."""
    if len(samples_ts) > 1:
        return number(cv(samples_ts))
    got = number(row.get("cv_ts"))
    if got is not None:
        return got
    avg, sd = number(row.get("avg_ts")), number(row.get("stddev_ts"))
    return sd / avg if avg and sd is not None and avg > 0 else None


def unstable(row: Mapping[Any, Any], samples_ts: Sequence[float] = (), limit: float = CV_LIMIT) -> bool:
    value = row_cv(row, samples_ts)
    return value is not None and value > limit


def busy(row: Mapping[Any, Any], limit: float = BUSY_LIMIT) -> bool:
    """Other processes took more than `limit` of the CPUs while the row's test ran."""
    other = number(row.get("other_cpu_pct"))
    return other is not None and other > 100 * limit


def causes(row: Mapping[Any, Any], samples_ts: Sequence[float] = (), limit: float = CV_LIMIT) -> list[str]:
    """The likely causes of an unstable row, most telling first; one 'no cause recorded' line if none."""
    out = []
    if busy(row):
        load = number(row.get("load_avg"))
        out.append(f"busy machine: other processes took {number(row.get('other_cpu_pct')):.0f}% of the CPUs"
                   + (f" (load average {load:.2f})" if load is not None else ""))
    start, end = number(row.get("cpu_mhz_start")), number(row.get("cpu_mhz_end"))
    if start and end is not None and end < start * (1 - FREQ_DROP):
        out.append(f"CPU frequency fell from {start:.0f} to {end:.0f} MHz (thermal or power throttling)")
    xs = [float(x) for x in samples_ts]
    if len(xs) >= 3 and xs[0] == min(xs) and cv(xs[1:]) <= limit:
        out.append(f"first-repetition warm-up: without it the CV is {cv(xs[1:]):.1%} "
                   "(keep workload.warmup on, or drop the first repetition)")
    if len(xs) >= 4 and len(set(xs)) > 1:
        rho = float(spearmanr(np.arange(len(xs)), xs).statistic)
        if rho <= TREND_RHO:
            out.append(f"the repetitions slowed one after another (Spearman rho {rho:.2f}): thermal or "
                       "frequency throttling, or a load that grew")
    n = len(xs) or int(number(row.get("repetitions")) or 0)
    if 0 < n < FEW_REPETITIONS:
        out.append(f"few repetitions ({n}): the CV itself is rough; raise workload.repetitions")
    avg_ns = number(row.get("avg_ns"))
    if avg_ns is not None and avg_ns < SHORT_TEST_NS:
        out.append(f"a short test ({avg_ns / 1e6:.1f} ms a repetition): timer and scheduler noise weigh in")
    return out or ["no cause recorded (interference shorter than a test, or none of the columns saw it)"]
