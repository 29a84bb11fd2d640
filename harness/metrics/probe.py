"""A machine-speed probe measured beside each test, for the regression gate on shared machines.

On a shared VM the whole machine gets faster and slower by 10-30% within minutes (neighbours,
the host), and that drift hits a memory-bound probe and a memory-bound test alike. Measured
just before and just after a test, on one thread and with no llama.cpp code in it, the probe tells
how fast the machine was while the test ran; the gate can then compare t/s per probe unit
(`harness gate --per-probe`) and see a change of the code or the configuration (fewer threads,
a slower build) through the machine's drift. Two numbers:

- probe_gbs: copy bandwidth of one thread over a buffer far larger than any cache, GB/s
  (read + write bytes), best of N: what token generation is bound by.
- probe_gops: one thread's float32 multiply and add over a buffer that stays in L1/L2, billions
  of operations per second, best of N: what prompt processing is bound by.
"""
from __future__ import annotations

import time

import numpy as np

from harness.metrics.bandwidth import copy_gbs

COLUMNS = ("probe_gbs", "probe_gops")


def cpu_gops(n: int = 16384, loops: int = 1000, repeats: int = 5) -> float:
    """One thread's float32 multiply + add rate on cache-resident data, Gop/s, best of `repeats`."""
    a = np.random.default_rng(0).random(n, dtype=np.float32)
    b, c = a.copy(), np.empty_like(a)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(loops):
            np.multiply(a, b, out=c)
            np.add(c, a, out=c)
        best = min(best, time.perf_counter() - t0)
    return 2 * n * loops / best / 1e9


def measure() -> dict[str, float]:
    """Both probe numbers now (about half a second)."""
    return {"probe_gbs": copy_gbs(buffer_mb=256, repeats=5, threads=1), "probe_gops": cpu_gops()}


def around(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """The row's probe columns: the mean of the probes taken before and after its test."""
    return {k: round((before[k] + after[k]) / 2, 3) for k in COLUMNS}
