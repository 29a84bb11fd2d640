"""workload=kld against llama.cpp's own `llama-perplexity --kl-divergence` on the same model files,
text, context and batch (one chunk per batch: -b n_ctx), threads and repack setting.

llama-perplexity first writes its base file from the base quant (`--kl-divergence-base FILE`, in a
temporary folder, removed after), then reads it for each quant (`--kl-divergence`); the harness
runs the kld workload in this process on the same quants (its base from the model cache, computed
once). Printed per quant: both sides' mean KLD, 99th percentile, top-1 agreement, perplexity ratio
and base perplexity, the relative difference of the means, and whether both tokenized the text alike.
Exit status 1 when a mean differs by more than --tolerance (default 1%; or by more than
llama-perplexity's six printed decimals can tell) or the tokens differ.

    python -m harness.sweep.vs_llama_perplexity [--model synthetic-small] [--quant Q8_0 ...]
        [--text FILE] [--n-ctx 512] [--chunks N] [--threads N] [--repack auto|true|false] [--out FILE.md]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from harness.backends.inprocess import InProcessBackend, release_model
from harness.backends.params import physical_cores
from harness.backends.repack import resolve_repack
from harness.config.plan import plan
from harness.config.validate import ConfigError
from harness.config.values import parse_repack
from harness.errors import fail, parse_args
from harness.models import cache
from harness.workloads import install_checks
from harness.workloads.kld import KldWorkload, base_model_path, chunked, read_text, text_path, tokenize
from harness.workloads.kld_base import BaseFile

# llama-perplexity's closing statistics (tools/perplexity/perplexity.cpp, kl_divergence)
PATTERNS = {"ppl": r"Mean PPL\(Q\)\s*:\s*([-\d.eE+]+)", "ppl_base": r"Mean PPL\(base\)\s*:\s*([-\d.eE+]+)",
            "ppl_ratio": r"Mean PPL\(Q\)/PPL\(base\)\s*:\s*([-\d.eE+]+)", "kld_mean": r"Mean\s+KLD:\s*([-\d.eE+]+)",
            "kld_p99": r"99\.0%\s+KLD:\s*([-\d.eE+]+)", "top1_agree": r"Same top p:\s*([-\d.eE+]+)"}
COMPARED = ("kld_mean", "kld_p99", "top1_agree", "ppl_ratio", "ppl_base")


def binary(given: str | None) -> Path:
    """--llama-perplexity, else the one built with the in-process libraries (the venv's bin), else PATH."""
    beside = Path(sys.executable).parent / "llama-perplexity"
    found = Path(given).expanduser() if given else beside if beside.is_file() else \
        Path(shutil.which("llama-perplexity") or beside)
    if not found.is_file() or not os.access(found, os.X_OK):
        raise ConfigError(f"llama-perplexity not found: {found}; give --llama-perplexity PATH (`make install` builds "
                          "one into the venv's bin)")
    return found


def parse(output: str) -> dict[str, float]:
    """llama-perplexity's closing statistics; top-1 as a share (it prints percent)."""
    out: dict[str, float] = {}
    for key, pattern in PATTERNS.items():
        m = re.search(pattern, output)
        if m is None:
            tail = " / ".join(output.strip().splitlines()[-3:])
            raise RuntimeError(f"llama-perplexity printed no {key}: {tail}")
        out[key] = float(m.group(1))
    out["top1_agree"] /= 100.0
    return out


def perplexity_args(cfg: Any, text: Path, repack: bool) -> list[str]:
    """The flags that make llama-perplexity score as the kld workload does."""
    b, w = cfg.backend, cfg.workload
    args = ["-f", str(text), "-c", str(w.n_ctx), "-b", str(w.n_ctx), "-ub", str(min(b.n_ubatch, w.n_ctx)),
            "-fa", b.flash_attn, "-ngl", str(b.n_gpu_layers), "-t", str(b.n_threads or physical_cores())]
    if w.chunks:
        args += ["--chunks", str(w.chunks)]
    return args + ([] if repack else ["--no-repack"])


def _run(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, errors="replace", check=False)
    if done.returncode != 0:
        tail = " / ".join((done.stdout + done.stderr).strip().splitlines()[-3:])
        raise RuntimeError(f"{Path(argv[0]).name} exited with status {done.returncode}: {tail}")
    return done.stdout + done.stderr


def harness_side(cfg: Any) -> dict[str, Any]:
    """The kld workload on one quant, in this process."""
    backend = InProcessBackend(cfg.backend, cache.prepare(cfg.model))
    backend.start()
    try:
        workload = KldWorkload(cfg, backend)
        row = workload.run(workload.cases()[0])
        row["tokens"] = chunked(tokenize(backend.model, read_text(text_path(cfg.workload))), cfg.workload.n_ctx,
                                cfg.workload.chunks)
        return row
    finally:
        backend.stop()
        release_model()


def compare(points: list[Any], exe: Path, repack: bool, log: Any = print) -> list[dict[str, Any]]:
    """Per quant: the harness's row, llama-perplexity's figures and the tokens both scored."""
    base_cfg = points[0]
    text = text_path(base_cfg.workload)
    flags = perplexity_args(base_cfg, text, repack)
    out = []
    with tempfile.TemporaryDirectory(prefix="harness-kld-") as tmp:
        base = Path(tmp) / "base.kld"
        log(f"llama-perplexity: the base ({base_model_path(base_cfg).name}) ...")
        _run([str(exe), "-m", str(base_model_path(base_cfg)), *flags, "--kl-divergence-base", str(base)])
        theirs_tokens = BaseFile(base).tokens
        for cfg in points:
            log(f"{cfg.model.quant}: llama-perplexity --kl-divergence ...")
            theirs = parse(_run([str(exe), "-m", str(cache.prepare(cfg.model)), *flags,
                                 "--kl-divergence-base", str(base), "--kl-divergence"]))
            log(f"{cfg.model.quant}: harness workload=kld ...")
            ours = harness_side(cfg)
            same = len(ours["tokens"]) == len(theirs_tokens) and bool((ours.pop("tokens") == theirs_tokens).all())
            out.append({"quant": cfg.model.quant, "ours": ours, "theirs": theirs, "same_tokens": same})
    return out


def markdown(results: list[dict[str, Any]]) -> str:
    head = ["quant", "tokens", "mean KLD harness", "mean KLD llama-perplexity", "diff %", "KLD p99 harness",
            "KLD p99 l-p", "top-1 % harness", "top-1 % l-p", "ppl ratio harness", "ppl ratio l-p",
            "ppl base harness", "ppl base l-p", "same tokens"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        o, t = r["ours"], r["theirs"]
        lines.append("| " + " | ".join([
            r["quant"], str(o["n_tokens"]), f"{o['kld_mean']:.6f}", f"{t['kld_mean']:.6f}",
            f"{100 * rel_diff(o['kld_mean'], t['kld_mean']):+.2f}", f"{o['kld_p99']:.6f}", f"{t['kld_p99']:.6f}",
            f"{100 * o['top1_agree']:.2f}", f"{100 * t['top1_agree']:.2f}", f"{o['ppl_ratio']:.6f}",
            f"{t['ppl_ratio']:.6f}", f"{o['ppl_base']:.1f}", f"{t['ppl_base']:.1f}",
            "yes" if r["same_tokens"] else "NO"]) + " |")
    return "\n".join(lines)


def rel_diff(ours: float, theirs: float) -> float:
    return (ours - theirs) / theirs if theirs else float("inf") if ours else 0.0


PRINTED = 5e-7  # half the last digit llama-perplexity prints of a KLD (%10.6lf)


def agrees(ours: float, theirs: float, tolerance: float) -> bool:
    """Within `tolerance` relative, or within what llama-perplexity's six decimals can tell."""
    return abs(ours - theirs) <= max(tolerance * abs(theirs), PRINTED)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.sweep.vs_llama_perplexity", description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="synthetic-small", help="model preset (default synthetic-small)")
    ap.add_argument("--quant", action="append", help="a quant to compare (repeat; default Q8_0, Q4_K_M, MXFP4_MOE)")
    ap.add_argument("--text", help="text file (default: the shipped harness/data/text/mixed.txt)")
    ap.add_argument("--n-ctx", type=int, default=512)
    ap.add_argument("--chunks", type=int, default=0, help="chunks to score, 0 = all")
    ap.add_argument("--threads", type=int, default=0, help="0: physical cores")
    ap.add_argument("--repack", default="auto", help="true, false or auto (probed as the bench does)")
    ap.add_argument("--tolerance", type=float, default=0.01, help="largest relative difference of the means")
    ap.add_argument("--llama-perplexity", help="path of llama-perplexity (default: the venv's)")
    ap.add_argument("--out", help="also write the table to this markdown file")
    ap.add_argument("overrides", nargs="*", help="more config overrides (key=value)")
    args = parse_args(ap, sys.argv[1:] if argv is None else argv, ap.prog)
    if isinstance(args, int):
        return args
    install_checks()
    try:
        exe = binary(args.llama_perplexity)
        repack = resolve_repack(parse_repack(args.repack))
        common = [f"model={args.model}", "workload=kld", f"workload.n_ctx={args.n_ctx}",
                  f"workload.chunks={args.chunks}", f"backend.n_threads={args.threads}", f"backend.repack={repack}",
                  *([f"workload.text={args.text}"] if args.text else []), *args.overrides]
        points = [plan([*common, f"model.quant={q}"], False)[0]
                  for q in args.quant or ["Q8_0", "Q4_K_M", "MXFP4_MOE"]]
    except (ConfigError, ValueError) as exc:
        return fail(ap.prog, str(exc))
    for p in points:
        OmegaConf.set_readonly(p, False)
        p.backend.repack = repack
    results = compare(points, exe, repack, log=lambda m: print(m, file=sys.stderr, flush=True))
    table = markdown(results)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")
    off = [r["quant"] for r in results if not r["same_tokens"]
           or not agrees(r["ours"]["kld_mean"], r["theirs"]["kld_mean"], args.tolerance)]
    if off:
        print(f"{ap.prog}: mean KLD differs by more than {100 * args.tolerance:.2f}% or the tokens differ for: "
              f"{', '.join(off)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
