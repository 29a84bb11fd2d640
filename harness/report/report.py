"""`harness report RUN_DIR...`: report.md with the figures, the summary table and the environment."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from harness.records.writer import RESULTS
from harness.report.plots import figures
from harness.report.table import markdown


def write_report(run_dir: Path) -> Path:
    """Write run_dir/report.md and run_dir/figures/*.png|svg from run_dir/results.csv."""
    df = pd.read_csv(run_dir / RESULTS, dtype=str, keep_default_na=False)
    out = run_dir / "figures"
    out.mkdir(exist_ok=True)
    lines = [f"# Benchmark report: {run_dir.name}", ""]
    env_path = run_dir / "env.json"
    if env_path.exists():
        env = json.loads(env_path.read_text())
        lines += ["## Environment", "", *(f"- {k}: {env.get(k, '')}" for k in
                  ("os", "cpu_info", "gpu_info", "accel", "backends", "llama_cpp_python", "harness_commit")), ""]
    lines += ["## Results", "", markdown(df), ""]
    shown = []
    for name, fig in figures(df):
        for ext in ("png", "svg"):
            fig.savefig(out / f"{name}.{ext}", dpi=110)
        plt.close(fig)
        shown.append(name)
    if shown:
        lines += ["## Figures", "", *(f"![{n}](figures/{n}.png)\n" for n in shown)]
    report = run_dir / "report.md"
    report.write_text("\n".join(lines) + "\n")
    return report
