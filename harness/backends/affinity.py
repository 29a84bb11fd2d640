"""CPU pinning: llama-bench's -C/--cpu-mask (a hex mask of CPUs; 0x0 = no pinning) for this process.

On a shared 2-vCPU VM a single-threaded bench left to the scheduler swung 25-35% between runs a
minute apart; pinned to one CPU, 8% (docs/BENCHMARKS.md, "Regression gate"). The in-process
backend pins every thread of the process for the point (threads made later inherit it; ggml's
OpenMP threads also get the mask through the threadpool, as llama-bench does) and puts the old
masks back when the point ends; llama-server gets the mask as its own -C.
"""
from __future__ import annotations

import os
from pathlib import Path


class MaskError(ValueError):
    pass


def parse(mask: str) -> frozenset[int]:
    """CPU ids of a llama-bench style hex mask ("0x2", "3", "0xff"); empty for 0x0."""
    text = str(mask).strip().lower()
    try:
        bits = int(text[2:] if text.startswith("0x") else text, 16)
    except ValueError:
        raise MaskError(f"backend.cpu_mask={mask!r} is not a hex CPU mask; e.g. 0x2 is CPU 1, 0x3 CPUs 0-1, "
                        "0x0 no pinning") from None
    return frozenset(i for i in range(bits.bit_length()) if bits >> i & 1)


def check(mask: str) -> frozenset[int]:
    """The mask's CPUs, refused with one line when this machine cannot pin to them."""
    cpus = parse(mask)
    if not cpus:
        return cpus
    if not hasattr(os, "sched_setaffinity"):
        raise MaskError(f"backend.cpu_mask={mask}: pinning needs sched_setaffinity (Linux); use 0x0 here")
    allowed = os.sched_getaffinity(0)
    if not cpus <= allowed:
        raise MaskError(f"backend.cpu_mask={mask} names CPUs {sorted(cpus - allowed)} this process cannot run on; "
                        f"allowed: {sorted(allowed)}")
    return cpus


def _threads() -> list[int]:
    try:
        return [int(t) for t in os.listdir(Path("/proc/self/task"))]
    except OSError:
        return [0]


def pin(cpus: frozenset[int]) -> dict[int, set[int]] | None:
    """Pin every thread of this process to `cpus`; returns what restore() needs (None: nothing done)."""
    if not cpus:
        return None
    saved = {}
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
    before = set().union(*saved.values())
    for tid in _threads():
        try:
            os.sched_setaffinity(tid, saved.get(tid, before))
        except OSError:
            continue

