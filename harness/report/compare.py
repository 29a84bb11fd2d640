"""`harness compare RUN_DIR_A RUN_DIR_B [...]`: runs side by side on the points they share.

Rows are joined on the configuration columns (records.schema.CONFIG_KEYS, less --ignore); the
environment (accel, cpu_info, gpu_info, build) is what the runs are compared on, so it never takes
part; runs whose CPU features differ get a line naming the features only one of them has. A
configuration column a run does not set at all (empty in every row, e.g. n_ctx of an imported
llama-bench run) matches any value. For each metric a run has (avg_ts; ttft_ms, e2e_ms,
output_ts where they exist; roofline_pct for tg) a table gives every run's value ± stddev and its
ratio to the first run with a 95% interval: a bootstrap over the per-repetition samples of both
runs when samples.jsonl has them, else the stddevs propagated (delta method).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from harness.metrics import roofline
from harness.records.merge import load_run, load_samples, sample_key
from harness.records.schema import CONFIG_KEYS


class CompareError(ValueError):
    """Bad input to compare, said in one line."""


@dataclass(frozen=True)
class Metric:
    column: str
    label: str
    unit: str
    higher_is_better: bool
    spread: str = ""        # the column holding its stddev
    samples: str = ""       # samples.jsonl key of its per-repetition values (pp_tg)
    request: str = ""       # else the field of each request under `requests` (chat, load)
    base: str = ""          # a metric this one is proportional to (its spread and samples, scaled)


METRICS = (
    Metric("avg_ts", "throughput", "tokens/s", True, "stddev_ts", "samples_ts", "decode_ts"),
    Metric("roofline_pct", "tg as a share of the memory-bandwidth bound", "%", True, base="avg_ts"),
    Metric("ttft_ms", "time to first token", "ms", False, request="ttft_ms"),
    Metric("e2e_ms", "request latency", "ms", False, request="e2e_ms"),
    Metric("output_ts", "output throughput over all clients", "tokens/s", True),
)
BY_NAME = {m.column: m for m in METRICS}


@dataclass
class Run:
    path: Path
    rows: pd.DataFrame
    samples: dict
    env: dict
    label: str = ""


@dataclass
class Point:
    keys: dict[str, str | None]             # None: not set by any run joined so far
    rows: dict[int, dict] = field(default_factory=dict)  # run index -> row


@dataclass(frozen=True)
class Cell:
    value: float
    sd: float | None
    n: int
    samples: tuple[float, ...]


def load(path: Path, given_gbs: float | None = None) -> Run:
    df = load_run(path)
    df = roofline.fill(df[df.status == "ok"].reset_index(drop=True), given_gbs)
    src = path if path.is_dir() else path.parent
    env = json.loads((src / "env.json").read_text()) if (src / "env.json").is_file() else {}
    return Run(path, df, load_samples(path), env)


def env_value(run: Run, key: str) -> str:
    """An environment field of a run: its env.json's, else its first row's ('' when neither has it)."""
    first = run.rows.iloc[0].to_dict() if len(run.rows) else {}
    return str(run.env.get(key) or first.get(key) or "")


def _env_label(run: Run) -> str:
    get = lambda k: env_value(run, k)  # noqa: E731
    device = get("device") or get("gpu_info") or get("cpu_info")
    backend = ",".join(sorted(set(run.rows.backend))) if "backend" in run.rows else ""
    return " ".join(x for x in (get("accel"), device, f"[{backend}]" if backend else "") if x)


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


def label_runs(runs: list[Run]) -> None:
    """Labels from the environment (accel, device, backend); folder names when those repeat."""
    for candidates in ([_env_label(r) for r in runs], [r.path.name for r in runs]):
        if len(set(candidates)) == len(runs) and all(candidates):
            break
    else:
        candidates = [f"{r.path.name} ({i + 1})" for i, r in enumerate(runs)]
    for r, lab in zip(runs, candidates):
        r.label = lab


def join(runs: list[Run], ignore: tuple[str, ...] = ()) -> list[Point]:
    """Points of all runs, each with the rows of the runs that have it (see the module doc)."""
    keys = [k for k in CONFIG_KEYS if k not in ignore]
    points: list[Point] = []
    for i, run in enumerate(runs):
        known = [k for k in keys if k in run.rows and (run.rows[k] != "").any()]
        before, added, specialised = list(points), {}, set()
        for row in run.rows.to_dict("records"):
            matched = False
            for p in before:
                if any(p.keys[k] is not None and p.keys[k] != row[k] for k in known):
                    continue
                matched = True
                fill = {k: row[k] for k in known if p.keys[k] is None}
                if not fill:
                    p.rows.setdefault(i, row)
                    continue
                specialised.add(id(p))
                child_keys = {**p.keys, **fill}
                child = added.setdefault(tuple(child_keys.items()), Point(child_keys, dict(p.rows)))
                child.rows.setdefault(i, row)
            if not matched:
                k = {key: (row[key] if key in known else None) for key in keys}
                added.setdefault(tuple(k.items()), Point(k)).rows.setdefault(i, row)
        points = [p for p in points if id(p) not in specialised] + list(added.values())
    return [p for p in points if len(p.rows) > 1]


def no_match_reason(runs: list[Run], ignore: tuple[str, ...]) -> str:
    diffs = []
    for k in (k for k in CONFIG_KEYS if k not in ignore):
        sets = [sorted(set(r.rows[k])) if k in r.rows else [] for r in runs]
        if all(s and s != [""] for s in sets) and not set.intersection(*map(set, sets)):
            diffs.append(f"{k} ({' | '.join(','.join(s) for s in sets)})")
    return (f"no point in common between the runs; they differ in {', '.join(diffs) or 'their tests'}; "
            "--ignore COL... leaves columns out of the match")


def cell(metric: Metric, row: dict, samples: dict) -> Cell | None:
    """The metric of one row with its stddev and per-repetition samples (when known)."""
    try:
        value = float(row.get(metric.column, ""))
    except ValueError:
        return None
    if math.isnan(value):
        return None
    if metric.base:
        base = cell(BY_NAME[metric.base], row, samples)
        if base is None or not base.value:
            return Cell(value, None, 1, ())
        f = value / base.value
        return Cell(value, base.sd * f if base.sd is not None else None, base.n, tuple(x * f for x in base.samples))
    rec = samples.get(sample_key(row), {})
    xs = rec.get(metric.samples) if metric.samples else None
    if xs is None and metric.request:
        xs = [r.get(metric.request) for r in rec.get("requests", [])]
    xs = tuple(float(x) for x in (xs or []) if x is not None and x == x)
    sd = row.get(metric.spread, "") if metric.spread else ""
    sd = float(sd) if sd not in ("", "nan") else (float(np.std(xs, ddof=1)) if len(xs) > 1 else None)
    n = len(xs) or int(float(row.get("repetitions") or 1))
    return Cell(value, sd, n, xs)


def ratio(a: Cell, b: Cell, resamples: int = 2000, seed: int = 0) -> tuple[float, float | None, float | None]:
    """b / a with a 95% interval: bootstrap of the ratio of means over both runs' samples when each
    has 2 or more, else the stddevs propagated on the log scale (delta method, n from the samples or
    repetitions), which keeps the interval positive."""
    r = b.value / a.value
    if len(a.samples) > 1 and len(b.samples) > 1:
        rng = np.random.default_rng(seed)
        sa, sb = np.asarray(a.samples), np.asarray(b.samples)
        ma = rng.choice(sa, (resamples, sa.size)).mean(axis=1)
        mb = rng.choice(sb, (resamples, sb.size)).mean(axis=1)
        lo, hi = np.percentile(mb / ma, [2.5, 97.5])
        return r, float(lo), float(hi)
    if a.sd is None or b.sd is None:
        return r, None, None
    se_log = math.sqrt((a.sd / a.value) ** 2 / a.n + (b.sd / b.value) ** 2 / b.n)
    return r, r * math.exp(-1.96 * se_log), r * math.exp(1.96 * se_log)


def point_labels(points: list[Point]) -> list[str]:
    """Each point by the configuration columns that vary among the points (test always)."""
    cols = [k for k in CONFIG_KEYS if k != "test" and len({p.keys.get(k) for p in points}) > 1]
    return [" ".join([*(f"{k}={p.keys[k]}" if k not in ("quant", "model_name", "backend", "mode") else str(p.keys[k])
                        for k in cols if p.keys.get(k) not in (None, "")), str(p.keys.get("test"))])
            for p in points]


def _fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 10 else f"{x:.1f}" if abs(x) < 1000 else f"{x:.0f}"


def table(metric: Metric, runs: list[Run], points: list[Point], labels: list[str]) -> list[str]:
    """Markdown lines of one metric: value ± stddev per run, ratio [95% interval] to the first."""
    head = ["point", runs[0].label]
    for r in runs[1:]:
        head += [r.label, f"/ {runs[0].label}"] if len(runs) > 2 else [r.label, "ratio [95% CI]"]
    lines = []
    for p, lab in zip(points, labels):
        cells = [cell(metric, p.rows[i], runs[i].samples) if i in p.rows else None for i in range(len(runs))]
        if sum(c is not None for c in cells) < 2:
            continue
        out = [lab]
        for i, c in enumerate(cells):
            out.append("" if c is None else _fmt(c.value) + (f" ± {_fmt(c.sd)}" if c.sd is not None else ""))
            if i:
                if c is None or cells[0] is None or not cells[0].value:
                    out.append("")
                else:
                    r, lo, hi = ratio(cells[0], c)
                    out.append(f"{r:.3f}" + (f" [{lo:.3f}, {hi:.3f}]" if lo is not None else ""))
        lines.append("| " + " | ".join(out) + " |")
    if not lines:
        return []
    better = "higher" if metric.higher_is_better else "lower"
    return [f"### {metric.label} ({metric.unit}, `{metric.column}`; {better} is better)", "",
            "| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1), *lines, ""]


def bandwidth_lines(runs: list[Run]) -> list[str]:
    out = []
    for r in runs:
        bw = sorted({v for v in r.rows.get("mem_bw_gbs", pd.Series(dtype=str)) if v})
        if bw:
            out.append(f"- {r.label}: memory bandwidth {', '.join(bw)} GB/s")
    return out


def markdown(runs: list[Run], points: list[Point], ignore: tuple[str, ...]) -> str:
    labels = point_labels(points)
    lines = ["# Compare", "", "| run | folder | accel | device | CPU | GPU | build |", "|---|---|---|---|---|---|---|"]
    for r in runs:
        get = lambda k: env_value(r, k)  # noqa: E731,B023
        lines.append(f"| {r.label} | {r.path.name} | {get('accel')} | {get('device')} | {get('cpu_info')} | "
                     f"{get('gpu_info')} | {get('build_commit')} |")
    lines += [x for line in cpu_feature_lines(runs) for x in ("", line)]
    keys = [k for k in CONFIG_KEYS if k not in ignore]
    lines += ["", f"Joined on {', '.join(keys)}" + (f" (ignored: {', '.join(ignore)})" if ignore else "")
              + f"; {len(points)} points in at least two runs. Ratios are run / {runs[0].label}.", ""]
    for metric in METRICS:
        lines += table(metric, runs, points, labels)
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


def write(paths: list[Path], out: Path, ignore: tuple[str, ...] = (), mem_bw: list[str] = ()) -> str:
    """compare.md and figures/ (PNG, SVG) in `out`; returns the markdown."""
    import matplotlib.pyplot as plt

    from harness.report.compare_plots import figures
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
    text = markdown(runs, points, ignore)
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
