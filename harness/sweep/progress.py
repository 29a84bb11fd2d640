"""One line per finished point with an ETA (plain text, fine on a terminal and in a CI log)."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import NotRequired, TypedDict


class State(TypedDict):
    total: int
    done: int
    t0: float
    failed: int
    run_dir: NotRequired[str]  # a multirun's folder (set by its first job)


STATE: State = {"total": 0, "done": 0, "t0": 0.0, "failed": 0}


def start(total: int) -> None:
    STATE.update({"total": total, "done": 0, "t0": time.monotonic(), "failed": 0})


def _clock(s: float) -> str:
    s = int(s)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def point_done(label: str, summary: str, failed: bool) -> None:
    if not STATE["t0"]:
        start(0)  # a launcher's job process (joblib, submitit): the sweep's total is the parent's
    STATE["done"] += 1
    STATE["failed"] += int(failed)
    done, total = STATE["done"], STATE["total"]
    elapsed = time.monotonic() - STATE["t0"]
    if not total:
        print(f"[{done} in process {os.getpid()}] {label} | {summary} | elapsed {_clock(elapsed)}",
              file=sys.stderr, flush=True)
        return
    total = max(total, done)
    eta = elapsed / done * (total - done)
    print(f"[{done}/{total}] {label} | {summary} | elapsed {_clock(elapsed)} ETA {_clock(eta)}",
          file=sys.stderr, flush=True)


def skipped(label: str, shard: Path) -> None:
    """A point a resumed sweep already has: one line, not counted in the progress."""
    print(f"[resume] {label} | already finished in {shard}", file=sys.stderr, flush=True)
