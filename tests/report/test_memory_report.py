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


PLACEMENT = next(ln for ln in memory._placement({"x": {0: {"mem_by_buft": "CPU:kv=1"}}}, 1) if ln.startswith("####"))


def test_compare_puts_each_run_side_by_side():
    df = _rows()
    recs = df[df.mem_model_mb != ""].to_dict("records")
    points = [({k: r[k] for k in CONFIG_KEYS}, {0: r, 1: {**r, "mem_compute_mb": "396.5"}}) for r in recs]
    lines = memory.compare_lines(points, ["http", "inprocess"])
    assert "Runs: (1) http; (2) inprocess" in lines
    table, placement = lines[:lines.index(PLACEMENT)], lines[lines.index(PLACEMENT):]
    body = [ln for ln in table if ln.startswith("| n_cpu_moe=")]
    assert len(body) == 2  # one line per configuration, not per test
    where = [ln.split(" | ") for ln in placement if ln.startswith("| n_cpu_moe=")]
    assert len(where) == 2 and all(cell.startswith("host ") for row in where for cell in row[1:])
    assert body[1].split(" | ")[5:7] == ["30.0", "396.5"]  # mem_compute_mb (1), (2) of n_cpu_moe=2


def test_where_names_the_device_before_the_host():
    row = {"mem_by_buft": "CPU:kv=4.75;CPU_Mapped:model=208.70;Vulkan0:model=105.66,compute=76.5;Vulkan_Host:compute=394.75"}
    assert memory.where(row, "model") == "Vulkan0 105.7, host 208.7"
    assert memory.where(row, "kv") == "host 4.8" and memory.where(row, "compute") == "Vulkan0 76.5, host 394.8"
    assert memory.where({}, "model") == ""
