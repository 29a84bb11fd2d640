"""CPU pinning: llama-bench's -C/--cpu-mask (a hex mask of CPUs; 0x0 = no pinning) for this process.

On a shared 2-vCPU VM a single-threaded bench left to the scheduler swung 25-35% between runs a
minute apart; pinned to one CPU, 8% (docs/BENCHMARKS.md, "Regression gate"). The in-process
backend pins every thread of the process for the point (threads made later inherit it; ggml's
OpenMP threads also get the mask through the threadpool, as llama-bench does) and puts the old
masks back when the point ends; llama-server gets the mask as its own -C. The mask itself is
parsed and checked by config/values.py.
"""
from __future__ import annotations

import os
from pathlib import Path


def _threads() -> list[int]:
    try:
        return [int(t) for t in os.listdir(Path("/proc/self/task"))]
    except OSError:
        return [0]


def pin(cpus: frozenset[int]) -> dict[int, set[int]] | None:
    """Pin every thread of this process to `cpus`; returns what restore() needs (None: nothing done)."""
    if not cpus:
        return None
    saved: dict[int, set[int]] = {}
    for tid in _threads():
        try:
            saved[tid] = os.sched_getaffinity(tid)
            os.sched_setaffinity(tid, cpus)
        except OSError:  # the thread ended meanwhile
            continue
    return saved


def restore(saved: dict[int, set[int]] | None) -> None:
    """Give every thread its mask from before pin(); threads made since get the union of those masks."""
    if not saved:
        return
    before: set[int] = set().union(*saved.values())
    for tid in _threads():
        try:
            os.sched_setaffinity(tid, saved.get(tid, before))
        except OSError:
            continue

