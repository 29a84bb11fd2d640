"""Rows appended and flushed as each point finishes: an interrupted sweep keeps what it did."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any, Mapping

from harness.records.schema import NAMES

RESULTS = "results.csv"
SAMPLES = "samples.jsonl"


def _durable(f) -> None:
    f.flush()
    os.fsync(f.fileno())


def append_row(folder: Path, row: Mapping[str, Any]) -> None:
    unknown = set(row) - set(NAMES)
    if unknown:
        raise KeyError(f"columns not in the schema: {sorted(unknown)}")
    path = folder / RESULTS
    new = not path.exists()
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=NAMES)
        if new:
            w.writeheader()
        w.writerow({k: row.get(k, "") for k in NAMES})
        _durable(f)


def append_samples(folder: Path, record: Mapping[str, Any]) -> None:
    with (folder / SAMPLES).open("a") as f:
        f.write(json.dumps(record) + "\n")
        _durable(f)


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)
