"""What writing a point's rows costs: records.writer.append_rows (CSV of every schema column, one
append, fsync), the call each sweep point makes before the next one starts.

`make bench-micro` times it with the other hot paths; without --benchmark-enable it runs once as a test.
"""
from __future__ import annotations

import csv

from harness.records import writer
from harness.records.schema import COLUMNS

ROWS_PER_POINT = 8  # a chat point over the 8 shipped prompts


def _row(i: int) -> dict:
    sample = {"int": 4096 + i, "float": 1234.5678 + i, "bool": True}
    row = {c.name: sample.get(c.type, f"{c.name}-value-{i}") for c in COLUMNS}
    row.update(status="ok", error="", test=f"prompt-{i}")
    return row


def test_bench_append_rows(benchmark, tmp_path):
    rows = [_row(i) for i in range(ROWS_PER_POINT)]
    benchmark(writer.append_rows, tmp_path, rows)
    with (tmp_path / writer.RESULTS).open(newline="") as f:
        written = list(csv.DictReader(f))
    assert written and len(written) % ROWS_PER_POINT == 0  # whole points only, one header
    assert written[-1]["test"] == f"prompt-{ROWS_PER_POINT - 1}" and written[0]["n_ctx"] == "4096"
    benchmark.extra_info["rows_per_call"] = ROWS_PER_POINT
