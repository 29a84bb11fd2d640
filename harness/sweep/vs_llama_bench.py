"""In-process pp/tg against llama.cpp's own llama-bench on the same GGUF, threads and batches.

All arms run in one session, interleaved (the order turns every round) so machine drift hits
them alike. Per test: each side's mean ± stddev over every repetition of every round, the ratio
of means with a bootstrap 95% interval, the ratio paired by round (geometric mean of each round's
ratio, bootstrap over rounds: drift between rounds cancels), and the ratio of the best rounds
(interference on a shared machine only ever slows a round down). `make vs-llama-bench` builds
llama-bench from the very llama.cpp tree llama-cpp-python vendors and writes the table this
prints. By default llama-bench runs on llama-cpp-python's own libllama/libggml (see
wheel_libs_env), so only the drivers differ; --own-libs uses the libraries of llama-bench's build
instead; --in-process adds llama-bench's own loop called inside this process (HostedLlamaBench).

    python -m harness.sweep.vs_llama_bench --llama-bench PATH [--quant Q4_K_M ...] [--in-process] [--out FILE]
"""
from __future__ import annotations

import argparse
import copy
import ctypes
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from harness.backends.inprocess import InProcessBackend, release_model
from harness.backends.params import physical_cores
from harness.backends.repack import resolve_repack
from harness.config.plan import plan
from harness.config.schema import LOAD_MODES
from harness.metrics.stats import describe, paired_by_round, rates
from harness.models import cache
from harness.report.compare_join import Cell, ratio
from harness.sweep import isolate
from harness.workloads import install_checks
from harness.workloads.pp_tg import Case, PpTg


def wheel_libs_env() -> dict[str, str]:
    """An environment in which llama-bench loads llama-cpp-python's own libllama/libggml (Linux:
    LD_LIBRARY_PATH beats the binary's RUNPATH; its llama-common/bench libs still come from its
    build). Then the two sides differ only in the driver: llama-bench's C++ loop vs ours."""
    import llama_cpp
    lib = Path(llama_cpp.__file__).parent / "lib"
    var = "DYLD_LIBRARY_PATH" if sys.platform == "darwin" else "LD_LIBRARY_PATH"
    return {**os.environ, var: os.pathsep.join(filter(None, [str(lib), os.environ.get(var, "")]))}


def llama_bench_args(model: Path, t: Case, threads: int, b: int, ub: int, reps: int, poll: int = 50,
                     load_mode: str = "mmap", repack: bool = True) -> list[str]:
    return ["-m", str(model), "-t", str(threads), "-b", str(b), "-ub", str(ub), "-r", str(reps),
            "--poll", str(poll), "-lm", load_mode, "--repack", str(int(repack)), "-p", str(t.n_prompt),
            "-n", str(t.n_gen), "-fa", "0", "-o", "json"]


def samples_ts(json_text: str) -> list[float]:
    """llama-bench's per-repetition t/s from its json output (one test)."""
    return [float(x) for x in json.loads(json_text)[0]["samples_ts"]]


def llama_bench(binary: str, args: list[str], env: dict[str, str] | None = None) -> list[float]:
    """llama-bench in its own process."""
    return samples_ts(subprocess.run([binary, *args], capture_output=True, text=True, check=True, env=env).stdout)


class HostedLlamaBench:
    """llama-bench's own C++ code (its `llama_bench(argc, argv)` in libllama-bench-impl, built next to
    the binary) called inside this Python process, on the libllama/libggml llama_cpp loaded. Beside
    the separate-process run it tells the drivers apart from the processes: what differs between
    this and our driver is the loop alone."""

    def __init__(self, binary: str) -> None:
        import llama_cpp  # noqa: F401  its libllama/libggml first, so the impl binds to them
        folder = Path(binary).resolve().parent
        for lib in ("libllama-common.so.0", "libllama-bench-impl.so"):
            if not (folder / lib).exists():
                raise SystemExit(f"vs_llama_bench: {folder / lib} is missing: --in-process needs a shared build "
                                 "(BUILD_SHARED_LIBS=ON, as `make vs-llama-bench` builds)")
            handle = ctypes.CDLL(str(folder / lib), mode=ctypes.RTLD_GLOBAL)
        self.fn = handle._Z11llama_benchiPPc  # int llama_bench(int, char **)
        self.fn.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_char_p)]
        self.fn.restype = ctypes.c_int

    def __call__(self, args: list[str]) -> list[float]:
        argv = ["llama-bench", *args]
        c_argv = (ctypes.c_char_p * len(argv))(*(x.encode() for x in argv))
        with tempfile.TemporaryFile() as out:
            sys.stdout.flush()
            saved = os.dup(1)
            os.dup2(out.fileno(), 1)  # it prints to the C stdout
            try:
                rc = self.fn(len(argv), c_argv)
                ctypes.CDLL(None).fflush(None)
            finally:
                os.dup2(saved, 1)
                os.close(saved)
            out.seek(0)
            text = out.read().decode()
        if rc != 0:
            raise RuntimeError(f"llama_bench() returned {rc}")
        return samples_ts(text)


def test_config(cfg: Any, t: Case) -> Any:
    """cfg for test `t` alone, its context sized as llama-bench sizes it (depth + prompt + generated)."""
    cfg = copy.deepcopy(cfg)
    cfg.workload.n_prompt, cfg.workload.n_gen, cfg.workload.n_depth = t.n_prompt, t.n_gen, t.n_depth
    cfg.backend.n_ctx = t.n_depth + t.n_prompt + t.n_gen
    return cfg


def harness_ts(cfg: Any, model: Path, t: Case, log: Path) -> list[float]:
    """Our per-repetition t/s for test `t`, as `harness bench` measures it: in the in-process worker
    (a fresh context per test, as llama-bench makes one)."""
    rows = [p for kind, p in isolate.ensure().run(test_config(cfg, t), model, 0, log) if kind == "row"]
    if rows[0]["status"] != "ok":
        raise RuntimeError(f"harness {t.name}: {rows[0].get('error')}")
    return list(rows[0]["_samples"]["samples_ts"])


def direct_ts(cfg: Any, model: Path, t: Case) -> list[float]:
    """The same measured in this process, with no worker (how the harness measured before it had one)."""
    backend_cfg = cfg.backend.copy()
    backend_cfg.n_ctx = t.n_depth + t.n_prompt + t.n_gen  # llama-bench sizes its context so
    backend = InProcessBackend(backend_cfg, model)
    backend.start()
    try:
        samples = PpTg(backend, cfg.backend.n_batch, cfg.workload.seed).run(t, cfg.workload.repetitions, True)
    finally:
        backend.stop()
    return rates(samples, t.n_tokens)


def compare_line(ref: list[list[float]], ours: list[list[float]]) -> str:
    """The table's numbers from each side's per-repetition t/s, one list a round: mean ± stddev over
    all repetitions, their ratio with a bootstrap 95% interval, the same paired by round, and the
    ratio of the best rounds."""
    def cell(rounds: list[list[float]]) -> Cell:
        xs = [x for r in rounds for x in r]
        d = describe(xs)
        return Cell(d.mean, d.stddev, d.n, tuple(xs))
    r, o = cell(ref), cell(ours)
    mid, lo, hi = ratio(r, o)
    pmid, plo, phi = paired_by_round(ref, ours)  # the arms of a round ran seconds apart
    best = max(describe(x).mean for x in ours) / max(describe(x).mean for x in ref)
    return (f"{r.value:.2f} ± {r.sd:.2f} | {o.value:.2f} ± {o.sd:.2f} | {mid:.3f} [{lo:.3f}, {hi:.3f}] | "
            f"{pmid:.3f} [{plo:.3f}, {phi:.3f}] | {best:.3f} |")


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
    ap.add_argument("--load-mode", default="mmap", choices=LOAD_MODES,
                    help="llama.cpp load mode on both sides (llama-bench -lm, backend.load_mode)")
    ap.add_argument("--test", nargs="+", default=["pp512", "tg128"], choices=["pp512", "tg128"])
    ap.add_argument("--repack", default="auto", choices=["auto", "true", "false"],
                    help="llama.cpp's CPU repack/AMX buffers on both sides (llama-bench --repack, backend.repack)")
    ap.add_argument("--direct", action="store_true",
                    help="also our loop in this process, without the worker (what isolating the worker costs)")
    ap.add_argument("--in-process", action="store_true",
                    help="also run llama-bench's own code inside this process (a third arm: drivers vs processes)")
    ap.add_argument("--out")
    a = ap.parse_args(argv)
    env = None if a.own_libs else wheel_libs_env()
    install_checks()
    repack = resolve_repack(a.repack)
    logs = Path(tempfile.mkdtemp(prefix="vs-llama-bench-"))
    threads = physical_cores()
    hosted = HostedLlamaBench(a.llama_bench) if a.in_process else None
    lines = ["| model | quant | test | llama-bench runs | llama-bench t/s | harness t/s | ratio of means [95% CI] | "
             "paired by round [95% CI] | ratio of bests |", "|---|---|---|---|---:|---:|---:|---:|---:|"]
    for quant in a.quant:
        cfg = plan([f"model={a.model}", f"model.quant={quant}", f"backend.n_threads={threads}",
                    "backend.flash_attn=off", f"workload.repetitions={a.repetitions}", f"backend.poll={a.poll}",
                    f"backend.load_mode={a.load_mode}", f"backend.repack={str(repack).lower()}"], False)[0]
        cfg.backend.repack = repack
        model = cache.prepare(cfg.model)
        tests = {"pp512": Case(512, 0, 0), "tg128": Case(0, 128, 0)}
        for t in (tests[name] for name in a.test):
            args = llama_bench_args(model, t, threads, cfg.backend.n_batch, cfg.backend.n_ubatch, a.repetitions,
                                    a.poll, a.load_mode, repack)
            arms: dict[str, Callable[[], list[float]]] = {"own process": partial(llama_bench, a.llama_bench, args, env),
                    "harness": partial(harness_ts, cfg, model, t, logs / "llama.log")}
            if a.direct:
                arms["harness without worker"] = partial(direct_ts, cfg, model, t)
            if hosted:
                arms["in harness process"] = partial(hosted, args)
            got: dict[str, list[list[float]]] = {name: [] for name in arms}
            for i in range(a.rounds):  # the order turns every round: no arm always runs first
                order = list(arms)
                for name in order[i % len(order):] + order[:i % len(order)]:
                    got[name].append(arms[name]())
            pairs = [(name, name, "harness") for name in got if name != "harness"]
            if a.direct:  # what the harness measured before the worker, against llama-bench
                pairs.append(("own process vs harness without worker", "own process", "harness without worker"))
            for label, ref, ours in pairs:
                line = f"| {a.model} | {quant} | {t.name} | {label} | " + compare_line(got[ref], got[ours])
                print(line, file=sys.stderr, flush=True)
                lines.append(line)
        release_model()
        isolate.release()
    table = "\n".join(lines)
    print(table)
    if a.out:
        Path(a.out).write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
