"""report.md and figures from a real sweep: only the plots the data supports."""
from __future__ import annotations

import shutil

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from cli_runner import harness

from harness.report import plots_latency, requests

FAST = ["model=synthetic-tiny", "workload.n_prompt=32", "workload.n_gen=4", "workload.repetitions=2",
        "backend.n_ctx=256", "backend.n_ubatch=8"]


@pytest.mark.slow  # a 4-point sweep (shared with tests/sweep)
def test_sweep_writes_a_report_with_the_figures_its_axes_support(sweep_2x2):
    r, tmp_path = sweep_2x2  # bench -m model.quant=F16,Q8_0 backend.n_batch=16,32 (tests/conftest.py)
    assert r.returncode == 0, r.stderr[-2000:]
    report = (tmp_path / "report.md").read_text()
    assert "## Results" in report and "| pp32 |" in report and "## Environment" in report
    for name in ("throughput_by_quant", "throughput_vs_n_batch"):
        assert f"figures/{name}.png" in report
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 5000
        assert (tmp_path / "figures" / f"{name}.svg").exists()
    assert "throughput_vs_n_ctx" not in report  # n_ctx did not vary


def test_report_command_and_its_one_line_refusal(tiny_run, tmp_path):
    r, run = tiny_run  # bench of FAST, a single run (tests/conftest.py)
    assert r.returncode == 0, r.stderr[-2000:]
    shutil.copytree(run, tmp_path / "run")  # the shared run stays as it is
    (tmp_path / "run" / "report.md").unlink()
    again = harness("report", str(tmp_path / "run"))
    assert again.returncode == 0 and (tmp_path / "run" / "report.md").exists()
    bad = harness("report", str(tmp_path / "nothing"))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "results.csv" in bad.stderr


CHAT = ["model=synthetic-tiny", "workload=chat", "workload.max_prompts=2", "workload.max_tokens=8",
        "workload.repetitions=2", "backend.n_ctx=1024"]


def _frames(run):
    rows = pd.read_csv(run / "results.csv", dtype=str, keep_default_na=False)
    return rows, requests.load(run, rows)


@pytest.mark.slow  # a 4-point chat sweep, in process and over llama-server
def test_chat_sweep_reports_raw_vs_harmony_by_backend_with_latency_cdfs(tmp_path):
    r = harness("bench", "-m", *CHAT, "mode=raw,harmony", "backend=inprocess,http", f"hydra.sweep.dir={tmp_path}")
    assert r.returncode == 0, r.stderr[-2000:]
    report = (tmp_path / "report.md").read_text()
    chat = report[report.index("### Chat"):]
    for name in ("raw_vs_harmony", "latency_cdf_chat"):
        assert f"![{name}](figures/{name}.png)" in chat and (tmp_path / "figures" / f"{name}.png").stat().st_size > 5000
    # one summary line per backend x mode, TTFT and latency as mean ± stddev over the 4 requests
    lines = [ln for ln in chat.splitlines() if ln.startswith(("| inprocess |", "| http |"))]
    assert sorted(ln.split(" | ")[1] for ln in lines) == ["harmony", "harmony", "raw", "raw"]
    assert all(ln.split(" | ")[3] == "4" and ln.count(" ± ") == 3 for ln in lines)
    assert "## Environment" in report and report.index("## Environment") < report.index("### Chat")

    _rows, reqs = _frames(tmp_path)
    assert len(reqs) == 16 and reqs.ttft_ms.gt(0).all() and (reqs.e2e_ms >= reqs.ttft_ms).all()
    [(name, fig)] = list(plots_latency.latency_cdf(reqs, "chat"))
    ttft_ax = fig.axes[0]
    assert ttft_ax.get_xlabel() == "time to first token (ms)" and "fraction" in ttft_ax.get_ylabel()
    lines = [ln for ln in ttft_ax.get_lines() if ln.get_label().endswith("(n=4)")]
    assert len(lines) == 4  # one CDF per backend x mode
    for line in lines:
        y = line.get_ydata()
        assert y[0] == 0 and y[-1] == 1 and (pd.Series(y).diff().dropna() >= 0).all()
    by_label = {ln.get_label(): sorted(ln.get_xdata()[1:]) for ln in lines}
    ours = reqs[(reqs.backend == "http") & (reqs["mode"] == "harmony")].ttft_ms.sort_values().tolist()
    assert by_label["http · harmony (n=4)"] == ours  # the curve is the requests' own TTFTs
    plt.close(fig)


@pytest.mark.slow  # a load sweep over llama-server
def test_load_sweep_reports_throughput_and_latency_against_concurrency(tmp_path):
    r = harness("bench", "-m", "model=synthetic-tiny", "backend=http", "workload=load", "workload.concurrency=1,2",
                "workload.num_requests=6", "workload.max_tokens=6", "backend.n_ctx=1024", f"hydra.sweep.dir={tmp_path}")
    assert r.returncode == 0, r.stderr[-2000:]
    report = (tmp_path / "report.md").read_text()
    load = report[report.index("### Load"):]
    for name in ("load_vs_concurrency", "latency_cdf_load"):
        assert f"figures/{name}.png" in load and (tmp_path / "figures" / f"{name}.png").stat().st_size > 5000
    table = [ln.split(" | ") for ln in load.splitlines() if ln.startswith("| 1 |") or ln.startswith("| 2 |")]
    assert [(t[0], t[1]) for t in table] == [("| 1", "6"), ("| 2", "6")]  # clients, requests done
    _, reqs = _frames(tmp_path)
    assert sorted(reqs.groupby("concurrency").size().items()) == [("1", 6), ("2", 6)]


def _noisy_run(path):
    """A run folder with a steady pp row and an unstable tg row that ran on a busy machine."""
    import json

    from harness.records.schema import NAMES
    base = {"run_id": "r", "workload": "pp_tg", "status": "ok", "backend": "inprocess", "mode": "raw",
            "model_name": "synthetic-tiny", "quant": "Q8_0", "n_batch": "32", "repetitions": "6", "point": "0",
            "host": "h", "avg_ns": "2e8", "load_avg": "3.1", "cpu_mhz_start": "2100", "cpu_mhz_end": "2100"}
    rows = [{**base, "test": "pp64", "avg_ts": "15000", "stddev_ts": "150", "cv_ts": "0.01", "other_cpu_pct": "2"},
            {**base, "test": "tg32", "avg_ts": "327.26", "stddev_ts": "284.10", "cv_ts": "0.868",
             "other_cpu_pct": "64"}]
    path.mkdir()
    pd.DataFrame(rows, dtype=str).reindex(columns=NAMES, fill_value="").to_csv(path / "results.csv", index=False)
    samples = {"run_id": "r", "host": "h", "point": "0", "test": "tg32",
               "samples_ts": [600.0, 610.0, 40.0, 620.0, 45.0, 48.6]}
    (path / "samples.jsonl").write_text(json.dumps(samples) + "\n")
    return path


def test_unstable_rows_are_flagged_in_the_table_and_listed_with_causes_in_the_report(tmp_path):
    from harness.report.report import write_report
    from harness.report.table import markdown_file
    run = _noisy_run(tmp_path / "run")
    table = markdown_file(run / "results.csv")
    assert "| 327.26 ± 284.10 (CV 87% !) |" in table and "15000.00 ± 150.00 |" in table
    assert "1 row(s) flagged `(CV n% !)`" in table and "above 5%" in table
    text = write_report(run).read_text()
    warnings = text.split("### Warnings")[1].split("## Results")[0]
    assert "**Unstable results**: 1 of 2 rows vary more than a CV of 5%" in warnings
    unstable = next(ln for ln in warnings.splitlines() if ln.startswith("| 0 | tg32 |"))
    assert "busy machine: other processes took 64% of the CPUs" in unstable
    assert "| 327.26 | 94.7% |" in unstable  # the CV of the samples kept (samples.jsonl)
    assert "pp64 |" not in warnings.split("**Busy machine**")[0]
    assert "**Busy machine**" in warnings and "| 0 | tg32 | 64 | 3.10 | 2100 -> 2100 |" in warnings
    assert "(CV 87% !)" in text.split("## Results")[1]  # the results table flags it too
    relaxed = write_report(run, cv_limit=1.5).read_text()
    assert "Unstable results" not in relaxed and "Busy machine" in relaxed


def test_report_takes_a_cv_limit_and_refuses_a_bad_one_in_one_line(tmp_path):
    run = _noisy_run(tmp_path / "run")
    ok = harness("report", str(run), "--cv-limit", "1.5")
    assert ok.returncode == 0 and "Unstable results" not in (run / "report.md").read_text()
    bad = harness("report", str(run), "--cv-limit", "lots")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--cv-limit" in bad.stderr
