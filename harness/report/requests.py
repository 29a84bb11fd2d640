"""Per-request latencies of chat and load runs, from samples.jsonl, joined to their result rows.

chat and load store each request's numbers under `requests` in their samples record (see
workloads/chat.py and workloads/load.py); each request becomes one row here, carrying the
configuration columns of the result row it belongs to (backend, mode, quant, concurrency...).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from harness.records.writer import SAMPLES

FIELDS = ("ttft_ms", "e2e_ms", "completion_tokens", "decode_ts")
JOIN = ("run_id", "host", "point", "test")


def _records(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            rec = json.loads(line)
            if "requests" in rec:
                out.append(rec)
    return out


def load(run_dir: Path, rows: pd.DataFrame) -> pd.DataFrame:
    """One row per request of the run's chat/load points; empty when there are none."""
    recs = _records(run_dir / SAMPLES)
    flat = [{**{k: str(rec.get(k, "")) for k in JOIN if k in rec},
             **{f: req.get(f) for f in FIELDS}, "request": i}
            for rec in recs for i, req in enumerate(rec["requests"])]
    if not flat:
        return pd.DataFrame()
    reqs = pd.DataFrame(flat)
    keys = [k for k in JOIN if k in reqs.columns and k in rows.columns]
    info = rows.drop(columns=[c for c in FIELDS if c in rows.columns]).drop_duplicates(keys)
    out = reqs.merge(info, on=keys, how="inner")
    for f in FIELDS:
        out[f] = pd.to_numeric(out[f], errors="coerce")
    return out[out.status == "ok"] if "status" in out.columns else out
