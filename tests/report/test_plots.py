"""Figures from hand-built rows: agent success by quant and mode (the agent workload's hook), and
the labelling every figure shares (model and machine in the title, ticks that do not overlap)."""
from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from harness.records.schema import NAMES
from harness.report import plots_agent, summary
from harness.report.style import WRAP, WRAP_UPRIGHT, category_ticks, panels

MACHINE = {"model_name": "gpt-oss-20b", "cpu_info": "Apple M3 Max", "gpu_info": "Apple M3 Max", "accel": "metal"}


def agent_rows(outcomes: dict[tuple[str, str], list[int]]) -> pd.DataFrame:
    rows = []
    for (quant, mode), wins in outcomes.items():
        rows += [{**MACHINE, "workload": "agent", "status": "ok", "quant": quant, "mode": mode, "level": "trial",
                  "success": str(w)} for w in wins]
        # a task row (mean over its trials) must not be counted as one more trial
        rows.append({**MACHINE, "workload": "agent", "status": "ok", "quant": quant, "mode": mode, "level": "task",
                     "success": str(sum(wins) / len(wins))})
    rows.append({**MACHINE, "workload": "agent", "status": "failed", "quant": "Q4_K_M", "mode": "harmony",
                 "level": "trial", "success": ""})
    df = pd.DataFrame(rows, dtype=str).reindex(columns=[*NAMES, "level", "success"], fill_value="")
    return df.loc[:, ~df.columns.duplicated()]


def test_agent_success_by_quant_and_mode_with_intervals():
    df = agent_rows({("Q4_K_M", "harmony"): [1, 1, 0, 1], ("Q8_0", "harmony"): [1, 1, 1, 1],
                     ("Q4_K_M", "raw"): [0, 0, 1, 0]})
    table = plots_agent.success_table(df).set_index(["quant", "mode"])
    assert table.loc[("Q4_K_M", "harmony"), "n"] == 4 and table.loc[("Q4_K_M", "harmony"), "success"] == 0.75
    lo, hi = table.loc[("Q8_0", "harmony"), ["lo", "hi"]]
    assert 0.45 < lo < 0.6 and hi == 1.0  # Wilson: 4 of 4 is not certainty
    [(name, fig)] = list(plots_agent.success(df))
    assert name == "agent_success"
    ax = fig.axes[0]
    heights = [round(p.get_height(), 1) for p in ax.patches]
    assert sorted(h for h in heights if h == h) == [25.0, 75.0, 100.0]  # Q8_0 raw has no rows: no bar
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Q4_K_M", "Q8_0"]
    assert "%" in ax.get_ylabel() and ax.get_xlabel() == "quantization"
    assert "gpt-oss-20b" in fig._suptitle.get_text() and "Apple M3 Max (metal)" in fig._suptitle.get_text()
    plt.close(fig)
    md = summary.agent(df)
    assert "| Q4_K_M | harmony | 4 | 75.0 |" in md and md.count("\n") == 4


@pytest.mark.parametrize("df", [
    pd.DataFrame({"workload": ["pp_tg"], "status": ["ok"], "quant": ["F16"], "mode": ["raw"]}),  # no success column
    agent_rows({}),                                                                           # only a failed trial
])
def test_no_agent_figure_without_agent_outcomes(df):
    assert list(plots_agent.success(df)) == [] and summary.agent(df) == ""


def test_long_category_labels_are_wrapped_and_turned():
    fig, (ax,) = panels(1)
    labels = [f"http_external · harmony · reasoning_effort=high #{i}" for i in range(6)]
    ax.bar(range(6), range(6))
    category_ticks(ax, labels)
    ticks = ax.get_xticklabels()
    assert all(max(len(line) for line in t.get_text().splitlines()) <= WRAP_UPRIGHT for t in ticks)
    assert all(t.get_rotation() == 90 for t in ticks)
    fig.canvas.draw()
    boxes = [t.get_window_extent() for t in ticks]
    assert not any(a.overlaps(b) for a, b in itertools.pairwise(boxes))
    plt.close(fig)


def test_a_few_short_labels_stay_level_and_apart():
    fig, (ax,) = panels(1)
    ax.bar(range(4), range(4))
    category_ticks(ax, ["inprocess · raw", "http · raw", "inprocess · harmony", "http · harmony"])
    fig.canvas.draw()
    ticks = ax.get_xticklabels()
    assert all(t.get_rotation() == 0 for t in ticks)
    assert all(max(len(line) for line in t.get_text().splitlines()) <= WRAP for t in ticks)
    boxes = [t.get_window_extent() for t in ticks]
    assert not any(a.overlaps(b) for a, b in itertools.pairwise(boxes))
    plt.close(fig)
