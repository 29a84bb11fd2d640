"""In-process pp/tg against llama.cpp's own llama-bench on the same GGUF, threads and batches.

Both run in one session, interleaved (ABBA rounds) so machine drift hits both alike. Two ratios:
of the means over rounds, and of the best round of each side (interference on a shared machine
only ever slows a round down, so the best rounds are the steadiest comparison). `make vs-llama-bench` builds llama-bench from the very llama.cpp tree
llama-cpp-python vendors and writes the table this prints. By default llama-bench runs on
llama-cpp-python's own libllama/libggml (see wheel_libs_env), so only the drivers differ;
--own-libs uses the libraries of llama-bench's build instead.

    python -m harness.report.vs_llama_bench --llama-bench PATH [--quant Q4_K_M ...] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from harness.backends.inprocess import InProcessBackend, release_model
from harness.backends.params import physical_cores
from harness.config.plan import plan
from harness.metrics.stats import bench_columns, describe
from harness.models import cache
from harness.workloads.pp_tg import PpTg, Case


def wheel_libs_env() -> dict[str, str]:
    """An environment in which llama-bench loads llama-cpp-python's own libllama/libggml (Linux:
    LD_LIBRARY_PATH beats the binary's RUNPATH; its llama-common/bench libs still come from its
    build). Then the two sides differ only in the driver: llama-bench's C++ loop vs ours."""
    import llama_cpp
    lib = Path(llama_cpp.__file__).parent / "lib"
    var = "DYLD_LIBRARY_PATH" if sys.platform == "darwin" else "LD_LIBRARY_PATH"
    return {**os.environ, var: os.pathsep.join(filter(None, [str(lib), os.environ.get(var, "")]))}


def llama_bench(binary: str, model: Path, t: Case, threads: int, b: int, ub: int, reps: int,
                env: dict[str, str] | None = None, poll: int = 50) -> float:
    cmd = [binary, "-m", str(model), "-t", str(threads), "-b", str(b), "-ub", str(ub), "-r", str(reps),
           "--poll", str(poll),
           "-p", str(t.n_prompt), "-n", str(t.n_gen), "-fa", "0", "-o", "json"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
    return float(json.loads(out)[0]["avg_ts"])


def harness_ts(cfg, model: Path, t: Case) -> float:
    backend_cfg = cfg.backend.copy()
    backend_cfg.n_ctx = t.n_depth + t.n_prompt + t.n_gen  # llama-bench sizes its context so
    backend = InProcessBackend(backend_cfg, model)
    backend.start()
    try:
        samples = PpTg(backend, cfg.backend.n_batch, cfg.workload.seed).run(t, cfg.workload.repetitions, True)
    finally:
        backend.stop()
    return bench_columns(samples, t.n_tokens)["avg_ts"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--llama-bench", required=True)
    ap.add_argument("--model", default="synthetic-small")
    ap.add_argument("--quant", nargs="+", default=["F16", "Q8_0", "Q4_K_M", "MXFP4_MOE"])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--repetitions", type=int, default=5)
    ap.add_argument("--own-libs", action="store_true",
                    help="llama-bench with its own build's libllama/libggml (default: llama-cpp-python's)")
    ap.add_argument("--poll", type=int, default=50, help="ggml threadpool polling level on both sides (0-100)")
    ap.add_argument("--out")
    a = ap.parse_args(argv)
    env = None if a.own_libs else wheel_libs_env()
    threads = physical_cores()
    lines = ["| model | quant | test | llama-bench t/s | harness t/s | ratio of means | ratio of bests |",
             "|---|---|---|---:|---:|---:|---:|"]
    for quant in a.quant:
        cfg = plan([f"model={a.model}", f"model.quant={quant}", f"backend.n_threads={threads}",
                    "backend.flash_attn=off", f"workload.repetitions={a.repetitions}", f"backend.poll={a.poll}"], False)[0]
        model = cache.prepare(cfg.model)
        for t in (Case(512, 0, 0), Case(0, 128, 0)):
            ref, ours = [], []
            runs = [lambda: ref.append(llama_bench(a.llama_bench, model, t, threads, cfg.backend.n_batch,
                                                   cfg.backend.n_ubatch, a.repetitions, env, a.poll)),
                    lambda: ours.append(harness_ts(cfg, model, t))]
            for i in range(a.rounds):  # ABBA order: neither side always runs first
                for run in runs if i % 2 == 0 else runs[::-1]:
                    run()
            r, o = describe(ref), describe(ours)
            line = (f"| {a.model} | {quant} | {t.name} | {r.mean:.2f} ± {r.stddev:.2f} | "
                    f"{o.mean:.2f} ± {o.stddev:.2f} | {o.mean / r.mean:.3f} | {o.max / r.max:.3f} |")
            print(line, file=sys.stderr, flush=True)
            lines.append(line)
        release_model()
    table = "\n".join(lines)
    print(table)
    if a.out:
        Path(a.out).write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
