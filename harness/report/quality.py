"""The kld section of the report: what each quant costs in quality (a table), and, when the run also
has tg rows (workload=pp_tg) of two or more of those quants, speed against quality: tg t/s over mean
KLD per quant with the Pareto front marked (no other quant is both faster and closer to the base).

One figure per kld test and per tg configuration (every configuration column but the quant), so a
figure never mixes configurations.
"""
from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from matplotlib.figure import Figure

from harness.metrics.kld import pareto
from harness.records.schema import CONFIG_KEYS
from harness.report.style import finish, numeric, panels

QUALITY = ("kld_mean", "kld_p99", "top1_agree", "ppl", "ppl_base", "ppl_ratio", "n_tokens")
JOIN = ("model_name", "quant", "type_k", "type_v")  # a kld row and a tg row are of the same quant when these agree
ALSO = ("pp_tg",)  # the workloads whose rows the section reads besides kld's (tg for the figure)


def _kld_rows(rows: pd.DataFrame) -> pd.DataFrame:
    k = rows[(rows.workload == "kld") & (rows.status == "ok")] if len(rows) else rows
    return numeric(k, QUALITY)


def table(rows: pd.DataFrame, requests: pd.DataFrame | None = None) -> str:
    k = _kld_rows(rows)
    if k.empty:
        return ""
    k = k.sort_values(["model_name", "test", "kld_mean"])
    head = ["model", "quant", "test", "mean KLD", "KLD p99", "top-1 agree %", "ppl", "ppl base", "ppl ratio",
            "tokens"]
    lines = [[str(r["model_name"]), str(r["quant"]), str(r["test"]), f"{r['kld_mean']:.6f}", f"{r['kld_p99']:.6f}",
              f"{100 * float(r['top1_agree']):.2f}", f"{r['ppl']:.6g}", f"{r['ppl_base']:.6g}",
              f"{r['ppl_ratio']:.5f}", str(int(r["n_tokens"]))]
             for r in k.to_dict("records")]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(out + ["| " + " | ".join(cells) + " |" for cells in lines])


def points(rows: pd.DataFrame) -> Iterator[tuple[str, pd.DataFrame]]:
    """(label, frame of quant, avg_ts, kld_mean) per kld test x tg configuration with 2+ quants."""
    k = _kld_rows(rows)
    tg = rows[(rows.workload == "pp_tg") & (rows.status == "ok") & rows.test.str.startswith("tg")] \
        if len(rows) else rows
    if k.empty or tg.empty:
        return
    tg = numeric(tg, ["avg_ts"])
    join = [c for c in JOIN if c in k.columns and c in tg.columns]
    config = [c for c in CONFIG_KEYS if c in tg.columns and c != "quant"]
    for ktest, kgroup in k.groupby("test", sort=True):
        quality = kgroup.groupby(join, as_index=False)["kld_mean"].mean()
        for values, tgroup in tg.groupby(config, sort=True, dropna=False):
            speed = tgroup.groupby(join, as_index=False)["avg_ts"].mean()
            both = speed.merge(quality, on=join)
            if both.quant.nunique() >= 2:
                named = dict(zip(config, values, strict=True))
                varying = [f"{c}={v}" for c, v in named.items()
                           if c != "test" and (c in ("backend", "n_threads") or tg[c].nunique() > 1)]
                yield f"{named['test']} over {ktest}, {', '.join(varying)}", both.reset_index(drop=True)


def figure(rows: pd.DataFrame, label: str, both: pd.DataFrame) -> Figure:
    fig, (ax,) = panels(1, width=6.4, height=4.6)
    front = pareto(list(both.avg_ts), list(both.kld_mean))
    on = both[front].sort_values("kld_mean")
    ax.scatter(both.kld_mean, both.avg_ts, color="0.6", zorder=2, label="quant")
    ax.plot(on.kld_mean, on.avg_ts, "o-", color="C3", zorder=3, label="Pareto front")
    for r in both.itertuples():
        ax.annotate(str(r.quant), (r.kld_mean, r.avg_ts), textcoords="offset points", xytext=(5, 4), fontsize=8)
    positive = both.kld_mean[both.kld_mean > 0]
    if len(positive) == len(both) and positive.max() > 10 * positive.min():
        ax.set_xscale("log")
    ax.set_xlabel("mean KLD vs the base quant (nats/token; lower is closer)")
    ax.set_ylabel("tg t/s (higher is faster)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return finish(fig, rows, f"Speed vs quality: {label}")


def figures(rows: pd.DataFrame, requests: pd.DataFrame | None = None) -> Iterator[tuple[str, Figure]]:
    for i, (label, both) in enumerate(points(rows)):
        yield f"quality_{i}", figure(rows, label, both)
