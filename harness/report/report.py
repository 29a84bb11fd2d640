"""`harness report RUN_DIR...`: report.md with the environment, warnings (unstable rows and their likely
causes, a busy machine: caveats.py), then per workload its summary table
(± stddev or a 95% interval) with its figures right below it; figures/ holds them as PNG and SVG.

A workload without a section of its own (a new one) still gets its rows in the llama-bench-like
table; chat, load and agent rows get latency and success tables, kld rows a quality table (and with
tg rows of 2+ quants, speed against quality: quality.py); rows that failed are listed.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from harness.metrics.stats import CV_LIMIT
from harness.records.merge import environments, load_samples
from harness.records.writer import RESULTS
from harness.report import (
    caveats,
    memory,
    plots,
    plots_agent,
    plots_latency,
    quality,
    requests,
    roofline_table,
    summary,
)
from harness.report.table import markdown

ENV_KEYS = ("host", "os", "cpu_info", "cpu_features", "gpu_info", "device", "accel", "backends", "llama_cpp_python",
            "harness_commit")
Figures = Callable[[pd.DataFrame, pd.DataFrame], Iterator[tuple[str, Figure]]]
# workload -> (heading, summary table, figures); both get the rows and the per-request frame.
SECTIONS: dict[str, tuple[str, Callable[[pd.DataFrame, pd.DataFrame], str], Figures]] = {
    "pp_tg": ("Throughput: pp and tg (llama-bench tests, mean ± stddev over repetitions)", summary.throughput,
              plots.throughput),
    "chat": ("Chat: raw vs Harmony, in-process vs HTTP (mean ± stddev over requests)", summary.chat,
             plots_latency.chat),
    "load": ("Load: concurrent streaming clients", summary.load, plots_latency.load),
    "agent": ("Agent: task success (95% interval)", summary.agent, plots_agent.success),
    "kld": ("Quality: each quant against its base (llama-perplexity's KL divergence)", quality.table,
            quality.figures),
}
ALSO: dict[str, tuple[str, ...]] = {"kld": quality.ALSO}  # other workloads' rows a section reads (tg for kld's figure)


def _environment(run_dir: Path) -> list[str]:
    envs = environments(run_dir)
    if not envs:
        return []
    if len(envs) == 1:
        return ["## Environment", "", *(f"- {k}: {envs[0].get(k, '')}" for k in ENV_KEYS), ""]
    head = ["| " + " | ".join(ENV_KEYS) + " |", "|" + "---|" * len(ENV_KEYS)]
    body = ["| " + " | ".join(str(e.get(k, "")).replace("|", "/") for k in ENV_KEYS) + " |" for e in envs]
    return ["## Environment", "", f"{len(envs)} machines or builds ran these shards:", "", *head, *body, ""]


def _save(out: Path, name: str, fig: Figure) -> str:
    for ext in ("png", "svg"):
        fig.savefig(out / f"{name}.{ext}", dpi=110)
    plt.close(fig)
    return f"![{name}](figures/{name}.png)\n"


def write_report(run_dir: Path, cv_limit: float = CV_LIMIT) -> Path:
    """Write run_dir/report.md and run_dir/figures/*.png|svg from run_dir/results.csv; rows whose
    repetitions' CV is above `cv_limit` are flagged, and listed with their causes under Warnings."""
    df = pd.read_csv(run_dir / RESULTS, dtype=str, keep_default_na=False)
    reqs = requests.load(run_dir, df)
    out = run_dir / "figures"
    out.mkdir(exist_ok=True)
    lines = [f"# Benchmark report: {run_dir.name}", "", *_environment(run_dir),
             *caveats.section(df, load_samples(run_dir), cv_limit), "## Results", ""]
    for workload in dict.fromkeys(df.workload):
        rows = df[df.workload.isin((workload, *ALSO.get(workload, ())))]
        heading, table, figures = SECTIONS.get(workload, (f"Workload {workload}", summary.throughput, None))
        text = markdown(rows, cv_limit) if table is summary.throughput else table(rows, reqs)
        lines += [f"### {heading}", "", text or markdown(rows, cv_limit), ""]
        if figures is not None:
            lines += [_save(out, name, fig) for name, fig in figures(rows, reqs)]
    lines += roofline_table.section(df)
    lines += memory.section(df)
    lines += [_save(out, name, fig) for name, fig in memory.figures(df)]
    bad = summary.problems(df)
    if bad:
        lines += ["### Rows that did not finish ok", "", bad, ""]
    report = run_dir / "report.md"
    report.write_text("\n".join(lines) + "\n")
    return report
