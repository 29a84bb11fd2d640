"""`harness compare RUN_DIR_A RUN_DIR_B [...]`: runs side by side on the points they share.

The runs are joined as compare_join.py describes; runs whose CPU features differ get a line naming
the features only one of them has. For each metric a run has (avg_ts; ttft_ms, e2e_ms, output_ts
where they exist; roofline_pct for tg) a table gives every run's value ± stddev and its ratio to
the first run with a 95% interval; compare_plots.py draws the same as figures. A throughput cell whose
repetitions' CV is above the CV limit is flagged `!` (unstable), with a note under its table.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from harness.metrics import stability
from harness.metrics.stats import CV_LIMIT
from harness.records.merge import sample_key
from harness.records.schema import CONFIG_KEYS
from harness.report import memory
from harness.report.compare_join import (
    METRICS,
    CompareError,
    Metric,
    Point,
    Run,
    cell,
    env_value,
    join,
    label_runs,
    load,
    no_match_reason,
    point_labels,
    ratio,
)


def cpu_feature_lines(runs: list[Run]) -> list[str]:
    """A line per run whose CPU features (records.env.cpu_features) differ from the first run's,
    naming those only one side has; nothing where either side does not record them (older runs)."""
    ref = runs[0]
    out = []
    for r in runs[1:]:
        a, b = (set(filter(None, env_value(x, "cpu_features").split(","))) for x in (ref, r))
        if not a or not b or a == b:
            continue
        only = [f"only {x.label} has {', '.join(sorted(mine - theirs))}"
                for x, mine, theirs in ((ref, a, b), (r, b, a)) if mine - theirs]
        out.append(f"CPU features differ: {'; '.join(only)}")
    return out



def _fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 10 else f"{x:.1f}" if abs(x) < 1000 else f"{x:.0f}"


def _unstable(metric: Metric, row: dict[str, Any], run: Run, cv_limit: float) -> bool:
    """A throughput cell (or one derived from it) whose row's repetitions vary more than the limit."""
    if "avg_ts" not in (metric.column, metric.base):
        return False
    return stability.unstable(row, run.samples.get(sample_key(row), {}).get("samples_ts", []), cv_limit)


def table(metric: Metric, runs: list[Run], points: list[Point], labels: list[str],
          cv_limit: float = CV_LIMIT) -> list[str]:
    """Markdown lines of one metric: value ± stddev per run (`!`: unstable), ratio [95% interval] to the first."""
    head = ["point", runs[0].label]
    for r in runs[1:]:
        head += [r.label, f"/ {runs[0].label}"] if len(runs) > 2 else [r.label, "ratio [95% CI]"]
    lines, flagged = [], 0
    for p, lab in zip(points, labels):
        cells = [cell(metric, p.rows[i], runs[i].samples) if i in p.rows else None for i in range(len(runs))]
        if sum(c is not None for c in cells) < 2:
            continue
        out = [lab]
        for i, c in enumerate(cells):
            shaky = c is not None and _unstable(metric, p.rows[i], runs[i], cv_limit)
            flagged += shaky
            out.append("" if c is None else _fmt(c.value) + (f" ± {_fmt(c.sd)}" if c.sd is not None else "")
                       + (" !" if shaky else ""))
            if i:
                if c is None or cells[0] is None or not cells[0].value:
                    out.append("")
                else:
                    mid, lo, hi = ratio(cells[0], c)
                    out.append(f"{mid:.3f}" + (f" [{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else ""))
        lines.append("| " + " | ".join(out) + " |")
    if not lines:
        return []
    better = "higher" if metric.higher_is_better else "lower"
    note = [f"`!`: unstable, the repetitions' CV is above {cv_limit:.0%} ({flagged} cell(s)); its ratio is "
            "less certain than its interval says when the cause was a busy machine", ""] if flagged else []
    return [f"### {metric.label} ({metric.unit}, `{metric.column}`; {better} is better)", "",
            "| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1), *lines, "", *note]


def bandwidth_lines(runs: list[Run]) -> list[str]:
    out = []
    for r in runs:
        bw = sorted({v for v in r.rows.get("mem_bw_gbs", pd.Series(dtype=str)) if v})
        if bw:
            out.append(f"- {r.label}: memory bandwidth {', '.join(bw)} GB/s")
    return out


def markdown(runs: list[Run], points: list[Point], ignore: tuple[str, ...], cv_limit: float = CV_LIMIT) -> str:
    labels = point_labels(points)
    lines = ["# Compare", "", "| run | folder | accel | device | CPU | GPU | build |", "|---|---|---|---|---|---|---|"]
    for r in runs:
        env = [env_value(r, k) for k in ("accel", "device", "cpu_info", "gpu_info", "build_commit")]
        lines.append(f"| {r.label} | {r.path.name} | " + " | ".join(env) + " |")
    lines += [x for line in cpu_feature_lines(runs) for x in ("", line)]
    keys = [k for k in CONFIG_KEYS if k not in ignore]
    lines += ["", f"Joined on {', '.join(keys)}" + (f" (ignored: {', '.join(ignore)})" if ignore else "")
              + f"; {len(points)} points in at least two runs. Ratios are run / {runs[0].label}.", ""]
    for metric in METRICS:
        lines += table(metric, runs, points, labels, cv_limit)
    lines += memory.compare_lines([(p.keys, p.rows) for p in points], [r.label for r in runs])
    lines += bandwidth_lines(runs)
    return "\n".join(lines).rstrip() + "\n"


def bandwidths(items: list[str], paths: list[Path]) -> list[float | None]:
    """--mem-bw values, `GBS` for every run or `RUN_DIR=GBS` for one, as a GB/s per run."""
    out: list[float | None] = [None] * len(paths)
    for item in items:
        where, _, num = item.rpartition("=")
        try:
            gbs = float(num)
        except ValueError:
            gbs = -1.0
        targets = [i for i, p in enumerate(paths) if not where or Path(where) == p]
        if gbs <= 0 or not targets:
            raise CompareError(f"--mem-bw {item}: give GBS (> 0) or RUN_DIR=GBS with RUN_DIR one of the runs")
        for i in targets:
            out[i] = gbs
    return out


def write(paths: list[Path], out: Path, ignore: tuple[str, ...] = (), mem_bw: Sequence[str] = (),
          cv_limit: float = CV_LIMIT) -> str:
    """compare.md and figures/ (PNG, SVG) in `out`; returns the markdown."""
    import matplotlib.pyplot as plt

    from harness.report.compare_plots import figures  # matplotlib's figures: loaded only to write them
    if len(paths) < 2:
        raise CompareError(f"compare needs at least 2 run folders, got {len(paths)}")
    unknown = [k for k in ignore if k not in CONFIG_KEYS]
    if unknown:
        raise CompareError(f"--ignore {unknown[0]}: not a configuration column; choose from {', '.join(CONFIG_KEYS)}")
    runs = [load(p, bw) for p, bw in zip(paths, bandwidths(list(mem_bw), paths))]
    label_runs(runs)
    points = join(runs, ignore)
    if not points:
        raise CompareError(no_match_reason(runs, ignore))
    text = markdown(runs, points, ignore, cv_limit)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    shown = []
    for name, fig in figures(runs, points):
        for ext in ("png", "svg"):
            fig.savefig(out / "figures" / f"{name}.{ext}", dpi=110)
        plt.close(fig)
        shown.append(name)
    text += "".join(f"\n![{n}](figures/{n}.png)\n" for n in shown)
    (out / "compare.md").write_text(text)
    return text
