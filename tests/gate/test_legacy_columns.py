"""A committed baseline written before the `repack` column existed still matches new runs: its rows
were run with llama.cpp's default (repack on), and the gate must not pass by matching nothing."""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from harness.gate.checks import compare, load

BASELINE = Path(__file__).resolve().parents[2] / "results" / "baselines" / "cpu-amd-epyc-2c"


def _with_repack(tmp_path: Path, value: str) -> Path:
    cur = shutil.copytree(BASELINE, tmp_path / value)
    df = pd.read_csv(cur / "results.csv", dtype=str, keep_default_na=False)
    assert "repack" not in df.columns  # the committed baseline predates the column
    df["repack"] = value
    df.to_csv(cur / "results.csv", index=False)
    return cur


def test_an_old_baseline_matches_a_new_run_with_repack_on_and_not_one_with_it_off(tmp_path):
    on = compare(load(BASELINE), load(_with_repack(tmp_path, "True")), metric="best_ts", threshold=0.15)
    assert len(on) == 2 and {c.verdict for c in on} == {"unchanged"}
    off = compare(load(BASELINE), load(_with_repack(tmp_path, "False")), metric="best_ts", threshold=0.15)
    assert sorted(c.verdict for c in off) == ["missing", "missing", "new", "new"]
