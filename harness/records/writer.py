"""Rows appended and flushed as each point finishes: an interrupted sweep keeps what it did."""
from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from harness.records.schema import NAMES

RESULTS = "results.csv"
SAMPLES = "samples.jsonl"


def _durable(f: IO[str]) -> None:
    f.flush()
    os.fsync(f.fileno())


def append_rows(folder: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append a point's rows in one write, then fsync: a kill leaves the point whole or absent."""
    unknown = set().union(*(row.keys() for row in rows)) - set(NAMES)
    if unknown:
        raise KeyError(f"columns not in the schema: {sorted(unknown)}")
    path = folder / RESULTS
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=NAMES)
    if not path.exists():
        w.writeheader()
    w.writerows({k: row.get(k, "") for k in NAMES} for row in rows)
    with path.open("a", newline="") as f:
        f.write(buf.getvalue())
        _durable(f)


def append_row(folder: Path, row: Mapping[str, Any]) -> None:
    append_rows(folder, [row])


def append_samples(folder: Path, record: Mapping[str, Any]) -> None:
    with (folder / SAMPLES).open("a") as f:
        f.write(json.dumps(record) + "\n")
        _durable(f)


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)
