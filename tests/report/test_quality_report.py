"""The kld section of the report: its table, and the speed/quality figure with the Pareto front only
where a run has tg and kld rows of two or more quants of one configuration."""
from __future__ import annotations

import pandas as pd

from harness.records.schema import NAMES
from harness.report import quality
from harness.report.report import SECTIONS, write_report

# quant: (tg t/s, mean KLD); Q6_K is slower than Q8_0 and further from F16: off the front
POINTS = {"Q8_0": (40.0, 0.0009), "Q6_K": (38.0, 0.002), "Q4_K_M": (55.0, 0.010), "MXFP4_MOE": (60.0, 0.005)}


def _rows(points: dict[str, tuple[float, float]], threads: tuple[str, ...] = ("2",)) -> pd.DataFrame:
    base = {c: "" for c in NAMES} | {"model_name": "synthetic-small", "backend": "inprocess", "mode": "raw",
                                     "status": "ok", "type_k": "f16", "type_v": "f16", "n_ctx": "4096"}
    rows = []
    for quant, (ts, k) in points.items():
        for n in threads:
            rows.append(base | {"workload": "pp_tg", "quant": quant, "test": "tg128", "avg_ts": str(ts * int(n) / 2),
                                "n_threads": n, "repetitions": "3", "stddev_ts": "0.1"})
        rows.append(base | {"workload": "kld", "quant": quant, "test": "kld c512", "n_ctx": "512", "n_threads": "2",
                            "kld_mean": str(k), "kld_p99": str(10 * k), "top1_agree": "0.9", "ppl": "1.0",
                            "ppl_base": "1.0", "ppl_ratio": "1.0", "n_tokens": "2295"})
    return pd.DataFrame(rows, dtype=str)


def test_quality_table_and_one_figure_per_tg_configuration():
    rows = _rows(POINTS, threads=("1", "2"))
    table = quality.table(rows)
    assert table.count("\n") == 1 + len(POINTS) and "| synthetic-small | Q8_0 | kld c512 | 0.000900 |" in table
    found = list(quality.points(rows))
    assert [label for label, _ in found] == ["tg128 over kld c512, backend=inprocess, n_threads=1",
                                             "tg128 over kld c512, backend=inprocess, n_threads=2"]
    both = found[1][1].set_index("quant")
    assert both.loc["Q4_K_M", "avg_ts"] == 55.0 and both.loc["Q4_K_M", "kld_mean"] == 0.010
    front = dict(zip(both.index, quality.pareto(list(both.avg_ts), list(both.kld_mean)), strict=True))
    assert front == {"MXFP4_MOE": True, "Q4_K_M": False, "Q6_K": False, "Q8_0": True}
    assert "kld" in SECTIONS


def test_report_gets_the_figure_with_two_quants_and_none_with_one(tmp_path):
    for name, points in (("two", dict(list(POINTS.items())[:2])), ("one", {"Q8_0": POINTS["Q8_0"]})):
        run = tmp_path / name
        run.mkdir()
        _rows(points).to_csv(run / "results.csv", index=False)
        report = write_report(run).read_text()
        assert "### Quality: each quant against its base" in report and "| Q8_0 | kld c512 |" in report
        assert ("figures/quality_0.png" in report) == (name == "two")
        assert (run / "figures" / "quality_0.png").exists() == (name == "two")
