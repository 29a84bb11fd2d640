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


def bench_rows(configs: list[dict[str, str]]) -> pd.DataFrame:
    """pp_tg rows, pp32 and tg4 for each configuration; avg_ts tells the configurations apart."""
    rows = []
    for i, c in enumerate(configs):
        for test, scale in (("pp32", 10), ("tg4", 1)):
            rows.append({**MACHINE, "workload": "pp_tg", "status": "ok", "backend": "inprocess", "mode": "raw",
                         "quant": "Q8_0", "n_ubatch": "8", "test": test, "avg_ts": str(scale * (100 + i)),
                         "stddev_ts": "1", **c})
    return pd.DataFrame(rows, dtype=str).reindex(columns=NAMES, fill_value="")


def test_one_quant_draws_no_quant_figure_and_n_batch_is_never_averaged_over_n_ctx():
    from harness.report import plots
    configs = [{"n_batch": b, "n_ctx": c} for b in ("16", "32") for c in ("256", "512")]
    df = bench_rows(configs)
    figs = dict(plots.throughput(df))
    assert sorted(figs) == ["throughput_vs_n_batch", "throughput_vs_n_ctx"]  # one quant: no quant figure
    fig = figs["throughput_vs_n_batch"]
    for ax, (test, scale) in zip(fig.axes, (("pp32", 10), ("tg4", 1))):
        assert ax.get_ylabel().startswith(test)
        drawn = {c.get_label(): list(c.lines[0].get_ydata()) for c in ax.containers}
        # one line per n_ctx, each point one configuration's own avg_ts (configs[i] has 100 + i)
        assert drawn == {"n_ctx=256": [scale * 100, scale * 102], "n_ctx=512": [scale * 101, scale * 103]}
        assert ax.get_legend().get_title().get_text() == "n_ctx"
    for f in figs.values():
        plt.close(f)


def test_too_many_combinations_are_held_fixed_and_the_title_says_which():
    from harness.report import facets, plots
    configs = [{"n_batch": b, "n_ctx": c, "n_threads": t} for b in ("16", "32") for c in ("256", "512", "1024", "2048")
               for t in ("1", "2")]
    configs.append({"n_batch": "16", "n_ctx": "256", "n_threads": "2"})  # makes n_threads=2 the most common value
    df = bench_rows(configs)
    f = facets.facet(plots.bench_rows(df), "n_batch")
    assert f is not None and f.split == ["n_ctx"] and f.fixed == {"n_threads": "2"}
    for panel in f.panels:
        assert len(panel.series) == 4
        # every point is one configuration; the repeated one is a mean over rows of that configuration only
        assert {n for s in panel.series for n in s.points.n} == {1, 2}
    figs = dict(plots.throughput(df))
    assert "fixed n_threads=2" in figs["throughput_vs_n_batch"]._suptitle.get_text()
    for fig in figs.values():
        plt.close(fig)


def test_a_category_figure_draws_a_bar_per_other_configuration():
    from harness.report import plots
    df = bench_rows([{"quant": q, "n_batch": b} for q in ("F16", "Q8_0") for b in ("16", "32")])
    figs = dict(plots.by_category(df))
    ax = figs["throughput_by_quant"].axes[1]  # tg4
    from matplotlib.container import BarContainer
    bars = {c.get_label(): [round(p.get_height()) for p in c.patches] for c in ax.containers
            if isinstance(c, BarContainer)}
    assert bars == {"n_batch=16": [100, 102], "n_batch=32": [101, 103]}  # F16, Q8_0 at each n_batch
    assert [t.get_text() for t in ax.get_xticklabels()] == ["F16", "Q8_0"]
    for fig in figs.values():
        plt.close(fig)
