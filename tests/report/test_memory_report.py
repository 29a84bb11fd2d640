"""The memory section of report.md and of `harness compare`: one row and one bar per configuration,
never one for several (rows as results.csv holds them: strings)."""
from __future__ import annotations

import pandas as pd

from harness.records.schema import CONFIG_KEYS
from harness.report import memory


def _rows() -> pd.DataFrame:
    base = dict.fromkeys(CONFIG_KEYS, "")
    base.update(model_name="synthetic-small", quant="Q8_0", backend="inprocess", n_ctx="4096", peak_rss_mb="700.0")
    rows = []
    for ncmoe, model_mb in (("0", "320.5"), ("2", "320.5")):
        for test in ("pp512", "tg128"):  # a point's tests share its buffers
            rows.append({**base, "test": test, "n_cpu_moe": ncmoe, "mem_model_mb": model_mb, "mem_kv_mb": "4.75",
                         "mem_compute_mb": "21.5" if ncmoe == "0" else "30.0", "gpu_mem_used_mb": "",
                         "mem_by_buft": "CPU:kv=4.75,compute=21.50;CPU_Mapped:model=320.50"})
    rows.append({**base, "test": "pp512", "quant": "F16", "mem_model_mb": "", "mem_kv_mb": "", "mem_compute_mb": "",
                 "mem_by_buft": ""})  # a row without buffer sizes (an older run, a server we did not start)
    return pd.DataFrame(rows)


def test_one_row_and_bar_per_configuration():
    df = _rows()
    lines = memory.section(df)
    body = [ln for ln in lines if ln.startswith("| synthetic-small")]
    assert len(body) == 2  # n_cpu_moe 0 and 2; pp and tg rows of each are one configuration
    assert "n_cpu_moe=0" in body[0] and "n_cpu_moe=2" in body[1] and "| 30.0 |" in body[1]
    assert "CPU:kv=4.75,compute=21.50; CPU_Mapped:model=320.50" in body[0]
    [(name, fig)] = list(memory.figures(df))
    bars = fig.axes[0].containers
    assert name == "memory" and len(bars) == 3 and all(len(b) == 2 for b in bars)  # model, KV, compute x 2 configs
    assert bars[2][1].get_height() == 30.0


def test_nothing_without_buffer_sizes():
    df = _rows()
    df = df[df.mem_model_mb == ""]
    assert memory.section(df) == [] and list(memory.figures(df)) == []


def test_compare_puts_each_run_side_by_side():
    df = _rows()
    recs = df[df.mem_model_mb != ""].to_dict("records")
    points = [({k: r[k] for k in CONFIG_KEYS}, {0: r, 1: {**r, "mem_compute_mb": "396.5"}}) for r in recs]
    lines = memory.compare_lines(points, ["http", "inprocess"])
    assert "Runs: (1) http; (2) inprocess" in lines
    body = [ln for ln in lines if ln.startswith("| n_cpu_moe=")]
    assert len(body) == 2  # one line per configuration, not per test
    assert body[1].split(" | ")[5:7] == ["30.0", "396.5"]  # mem_compute_mb (1), (2) of n_cpu_moe=2
