"""Keep a gate run as the committed baseline of its machine class.

    python -m harness.gate.baseline RUN_DIR [--root results/baselines]

Copies what the gate reads (results.csv, samples.jsonl, env.json) to <root>/<machine class>/,
with the paths of this machine left out (model_path, server_model_path), so it can be committed.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import pandas as pd

from harness.errors import fail
from harness.gate.machine import machine_class, run_env
from harness.records.writer import RESULTS, SAMPLES

LOCAL_PATHS = ("model_path", "server_model_path")


def keep(run: Path, root: Path) -> Path:
    env = run_env(run)
    if env is None or not (run / RESULTS).is_file():
        raise FileNotFoundError(f"{run}: no results.csv and env.json; give a finished `harness bench` folder")
    dest = root / machine_class(env)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    df = pd.read_csv(run / RESULTS, dtype=str, keep_default_na=False)
    for col in LOCAL_PATHS:
        if col in df.columns:
            df[col] = ""
    df.to_csv(dest / RESULTS, index=False)
    shutil.copyfile(run / SAMPLES, dest / SAMPLES)
    (dest / "env.json").write_text(json.dumps({k: v for k, v in env.items() if "path" not in k}, indent=1) + "\n")
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.gate.baseline", description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--root", type=Path, default=Path("results/baselines"))
    a = ap.parse_args(argv)
    try:
        print(f"baseline: {keep(a.run, a.root)}")
    except FileNotFoundError as exc:
        return fail("harness.gate.baseline", str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
