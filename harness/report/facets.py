"""What a figure of one axis may draw without mixing configurations.

A figure plots one axis (quant, n_batch, ...) only when it has two or more values. Each value it
draws comes from points that differ in nothing but that axis: one panel per test, one series per
combination of the other configuration columns that vary (CONFIG_KEYS; a column the axis sets,
such as n_ubatch swept with n_batch, does not split). When those combinations are too many to
read, the last columns are held at their most common value instead, and the figure's title says
which (`fixed`). A value drawn is a mean only over rows of one configuration (repeated points).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from harness.records.schema import CONFIG_KEYS

MAX_SERIES = 6  # series (lines or bars) per panel
MAX_PANELS = 6  # tests per figure
SHORT = ("quant", "backend", "mode", "model_name")  # shown by value alone in labels


@dataclass
class Series:
    label: str                 # the other columns' values ('' when nothing else varies)
    points: pd.DataFrame       # index: the axis value; ts (mean t/s), sd (stddev), n (rows behind it)


@dataclass
class Panel:
    test: str
    series: list[Series]


@dataclass
class Facets:
    axis: str
    panels: list[Panel]
    split: list[str]                                          # columns whose combinations are series
    fixed: dict[str, str] = field(default_factory=dict)       # columns held at one value
    tests_left_out: list[str] = field(default_factory=list)

    def note(self) -> str:
        """What the title must say about the rows left out: the values held fixed, tests not shown."""
        parts = [f"fixed {', '.join(f'{k}={v}' for k, v in self.fixed.items())}"] if self.fixed else []
        if self.tests_left_out:
            parts.append(f"not shown: {', '.join(self.tests_left_out)}")
        return "; ".join(parts)


def others(rows: pd.DataFrame, axis: str) -> list[str]:
    """Configuration columns other than the axis and the test that vary among the rows, less those
    the axis sets (one value of theirs for each value of the axis)."""
    out = []
    for k in CONFIG_KEYS:
        if k in (axis, "test") or k not in rows.columns or rows[k].nunique(dropna=False) < 2:
            continue
        if rows.groupby(axis, dropna=False)[k].nunique(dropna=False).max() <= 1:
            continue  # swept together with the axis: part of it
        out.append(k)
    return out


def also_varying(rows: pd.DataFrame, named: list[str]) -> list[str]:
    """Configuration columns beyond `named` (and the test) with two or more set values among the rows:
    a figure that groups by `named` must group by these too, or it averages different configurations."""
    return [k for k in CONFIG_KEYS if k not in named and k != "test" and k in rows.columns
            and rows[k][rows[k] != ""].nunique() > 1]


def _label(key: tuple[object, ...], cols: list[str]) -> str:
    return " · ".join(f"{v}" if c in SHORT else f"{c}={v}" for c, v in zip(cols, key))


def facet(rows: pd.DataFrame, axis: str) -> Facets | None:
    """The panels and series of a figure of `axis` over the rows (numeric columns as numbers);
    None when the axis has fewer than two values."""
    if rows.empty or axis not in rows.columns or rows[axis].nunique() < 2:
        return None
    split = others(rows, axis)
    fixed: dict[str, str] = {}
    while split and rows.groupby(split, dropna=False).ngroups > MAX_SERIES:
        col = split.pop()
        value = rows[col].mode(dropna=False).iloc[0]
        rows = rows[rows[col] == value]
        fixed[col] = f"{value:g}" if isinstance(value, float) else str(value)
    tests = list(dict.fromkeys(rows.test))
    panels = []
    for test in tests[:MAX_PANELS]:
        t = rows[rows.test == test]
        groups = list(t.groupby(split, sort=False, dropna=False)) if split else [((), t)]
        series = []
        for key, g in groups:
            key = key if isinstance(key, tuple) else (key,)
            points = g.groupby(axis, sort=True).agg(ts=("avg_ts", "mean"), sd=("stddev_ts", "mean"),
                                                    n=("avg_ts", "size"))
            series.append(Series(_label(key, split), points))
        panels.append(Panel(str(test), series))
    return Facets(axis, panels, split, fixed, [str(t) for t in tests[MAX_PANELS:]])
