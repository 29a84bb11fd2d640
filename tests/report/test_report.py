"""report.md and figures from a real sweep: only the plots the data supports."""
from __future__ import annotations

from cli_runner import harness

FAST = ["model=synthetic-tiny", "workload.n_prompt=32", "workload.n_gen=4", "workload.repetitions=2",
        "backend.n_ctx=256", "backend.n_ubatch=8"]


def test_sweep_writes_a_report_with_the_figures_its_axes_support(tmp_path):
    r = harness("bench", "-m", *FAST, "model.quant=F16,Q8_0", "backend.n_batch=16,32", f"hydra.sweep.dir={tmp_path}")
    assert r.returncode == 0, r.stderr[-2000:]
    report = (tmp_path / "report.md").read_text()
    assert "## Results" in report and "| pp32 |" in report and "## Environment" in report
    for name in ("throughput_by_quant", "throughput_vs_n_batch"):
        assert f"figures/{name}.png" in report
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 5000
        assert (tmp_path / "figures" / f"{name}.svg").exists()
    assert "throughput_vs_n_ctx" not in report  # n_ctx did not vary


def test_report_command_and_its_one_line_refusal(tmp_path):
    r = harness("bench", *FAST, f"hydra.run.dir={tmp_path}/run")
    assert r.returncode == 0
    (tmp_path / "run" / "report.md").unlink()
    again = harness("report", str(tmp_path / "run"))
    assert again.returncode == 0 and (tmp_path / "run" / "report.md").exists()
    bad = harness("report", str(tmp_path / "nothing"))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "results.csv" in bad.stderr
