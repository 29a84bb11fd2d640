"""What a crash costs: seconds from the worker's death to the next point running (a fresh worker
started, the model loaded, the first case begun), on real llama.cpp with an injected SIGSEGV.

    python -m harness.sweep.crash_cost [--model synthetic-small] [--quant Q8_0] [--rounds 5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from omegaconf import DictConfig

from harness.backends.repack import resolve_repack
from harness.config.plan import plan
from harness.models import cache
from harness.sweep import faults, isolate
from harness.workloads import install_checks


def once(cfg: DictConfig, model: Path, logs: Path) -> tuple[float, float]:
    """(seconds from the crash being seen to the next point's first case, that point's model load_s)."""
    os.environ[faults.ENV] = "SIGSEGV,decode=2,point=0"  # read by each worker at its start
    try:
        for _ in isolate.ensure().run(cfg, model, 0, logs / "crash.log"):
            pass
        raise RuntimeError("the injected fault did not crash the worker")
    except isolate.WorkerCrashed:
        t_crash = time.perf_counter()
    load_s = 0.0
    for kind, payload in isolate.ensure().run(cfg, model, 1, logs / "next.log"):
        if kind == "info":
            load_s = payload["load_s"]
        if kind == "case":
            took = time.perf_counter() - t_crash
            break
    isolate.release()  # stop mid-point: the next round starts from nothing again
    return took, load_s


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="synthetic-small")
    ap.add_argument("--quant", default="Q8_0")
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args(argv)
    install_checks()
    cfg = plan([f"model={a.model}", f"model.quant={a.quant}", "workload.repetitions=1"], False)[0]
    cfg.backend.repack = resolve_repack(cfg.backend.repack)
    model = cache.prepare(cfg.model)
    logs = Path(tempfile.mkdtemp(prefix="crash-cost-"))
    runs = [once(cfg, model, logs) for _ in range(a.rounds)]
    took, load = [r[0] for r in runs], [r[1] for r in runs]
    print(f"{a.model} {a.quant}: crash to next point running: median {statistics.median(took):.2f} s "
          f"(min {min(took):.2f}, max {max(took):.2f}, {a.rounds} rounds); of it the model load: median "
          f"{statistics.median(load):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
