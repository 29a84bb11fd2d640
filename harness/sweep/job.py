"""One sweep point: config -> model file -> backend x workload -> rows on disk."""
from __future__ import annotations

import copy
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from omegaconf import DictConfig, OmegaConf

from harness import workloads
from harness.backends.base import Unsupported
from harness.backends.repack import resolve_repack
from harness.backends.server import current_server
from harness.config import values as cv
from harness.config.schema import REPLAY_BACKENDS, BenchConfig
from harness.config.validate import LOADING_BACKENDS, OFFLOAD_KEYS, validate
from harness.config.values import AUTO, cache_prompt, parse_repack
from harness.errors import error_line
from harness.models import cache
from harness.records import busy, writer
from harness.records import env as envrec
from harness.records.merge import POINT
from harness.records.schema import FAILED
from harness.sweep import fit, isolate, progress, resume
from harness.sweep.execute import Event, execute
from harness.sweep.rss import PeakRss


def _config_columns(cfg: DictConfig) -> dict[str, Any]:
    b, w = cfg.backend, cfg.workload
    return {"backend": b.type, "mode": cfg.mode, "workload": w.name, "model_name": cfg.model.name,
            "quant": cfg.model.quant, "n_ctx": b.n_ctx, "n_batch": b.n_batch, "n_ubatch": b.n_ubatch,
            "type_k": b.type_k, "type_v": b.type_v, "n_gpu_layers": b.n_gpu_layers,
            "flash_attn": b.flash_attn, "repack": b.repack, "repetitions": w.repetitions,
            "reasoning_effort": cfg.harmony.reasoning_effort if cfg.mode == "harmony" else "",
            "cache_prompt": cache_prompt(cfg), **_offload_columns(b)}


def _offload_columns(b: DictConfig) -> dict[str, Any]:
    """The offload and device axes as llama-bench prints them; blank where no model is loaded here."""
    if b.type not in LOADING_BACKENDS:
        return dict.fromkeys(OFFLOAD_KEYS, "")
    return {"n_cpu_moe": b.n_cpu_moe, "no_kv_offload": b.no_kv_offload, "split_mode": b.split_mode,
            "main_gpu": b.main_gpu,
            "tensor_buft_overrides": cv.overrides_text(cv.parse_overrides(b.tensor_buft_overrides)),
            "tensor_split": cv.tensor_split_text(cv.parse_tensor_split(b.tensor_split))}


def _summary(r: dict[str, Any]) -> str:
    if r.get("level") == "suite":
        return (f"agent suite success {r['success']:.2f}, pass@1 {r['pass_at_1']:.2f}, "
                f"valid calls {r['valid_call_rate']:.2f}")
    if r["status"] != "ok":
        return f"{r['test']} {r['status'].upper()}: {r.get('error', '')}"
    if "kld_mean" in r:
        return f"{r['test']} mean KLD {r['kld_mean']:.6f}, top-1 {r['top1_agree']:.3f}, ppl ratio {r['ppl_ratio']:.4f}"
    spread = f"±{r['stddev_ts']:.2f}" if isinstance(r.get("stddev_ts"), float) else ""
    return f"{r['test']} {r.get('avg_ts', float('nan')):.2f}{spread} t/s"


REPACK_BACKENDS = ("inprocess", "http")  # where llama.cpp loads the model on this machine


def resolve_repack_once(points: list[DictConfig]) -> None:
    """Probe backend.repack=auto (if any point asks for it) before the sweep starts; cached after."""
    if any(p.backend.type in REPACK_BACKENDS and parse_repack(p.backend.repack) == AUTO for p in points):
        resolve_repack(AUTO)


def _resolve_repack(cfg: DictConfig) -> DictConfig:
    """A copy whose backend.repack is true or false where llama.cpp loads the model here (in-process,
    a managed server); blank for servers we do not start and recorded completions."""
    cfg = copy.deepcopy(cfg)
    OmegaConf.set_readonly(cfg, False)
    cfg.backend.repack = resolve_repack(cfg.backend.repack) if cfg.backend.type in REPACK_BACKENDS else ""
    return cfg


def _held_pids(worker: isolate.Worker | None) -> list[int]:
    """Processes holding a model this point reuses or replaces: the in-process worker, a kept llama-server."""
    srv = current_server()
    return [p for p in (worker.pid if worker else None, srv.pid if srv else None) if p]


def _events(cfg: DictConfig, path: Path | None, out: Path, point: int,
            worker: isolate.Worker | None) -> Iterator[Event]:
    """The point's events: from the in-process worker (crash-isolated), else run right here."""
    if worker is not None:
        return worker.run(cfg, path, point, out / "llama.log")
    return execute(cfg, path)


def run_point(cfg: DictConfig, out: Path, run_id: str, point: int, label: str) -> int:
    """Run every case of one point, appending a row per case; returns the number that failed or crashed."""
    workloads.install_checks()  # a job process of another launcher (joblib, submitit) has not yet
    validate(cfg)
    out.mkdir(parents=True, exist_ok=True)
    writer.write_json(out / POINT, resume.point_record(cfg))  # what the point is, for resume and merge
    cfg = _resolve_repack(cfg)
    writer.write_json(out / "env.json", {**envrec.environment(), "repack": cfg.backend.repack})
    base = {"run_id": run_id, "point": point, **_config_columns(cfg), **envrec.row_columns()}
    cases = workloads.plan(cast(BenchConfig, cfg))  # a DictConfig of the BenchConfig schema
    results: list[dict[str, Any]] = []
    worker = isolate.ensure() if cfg.backend.type == "inprocess" else None
    with PeakRss(worker.pid if worker else None) as rss:
        try:
            path = None if cfg.backend.type in REPLAY_BACKENDS else cache.prepare(cfg.model)
            base["model_filename"] = path.name if path is not None else ""
            base["model_path"] = str(path or "")
            if path is not None and cfg.backend.type in LOADING_BACKENDS and cfg.backend.get("fit_check", True):
                fit.check(cfg.backend, path, envrec.environment()["accel"], _held_pids(worker))
            for kind, payload in _events(cfg, path, out, point, worker):
                if kind == "info":
                    base.update(payload)
                elif kind == "row":
                    results.append(payload)
        except Exception as exc:
            if not isinstance(exc, (RuntimeError, OSError, ValueError)):
                traceback.print_exc()
            done = {r["test"] for r in results}
            status = ("unsupported" if isinstance(exc, Unsupported) else
                      "crashed" if isinstance(exc, isolate.WorkerCrashed) else "failed")
            error = str(exc) if isinstance(exc, (isolate.WorkerCrashed, isolate.PointFailed)) else error_line(exc)
            results += [{**c.columns(), "status": status, "error": error} for c in cases if c.name not in done]
    samples = [(r["test"], r.pop("_samples", None)) for r in results]
    writer.append_rows(out, [{**base, **r, "peak_rss_mb": rss.mb} for r in results])
    for test, s in samples:
        if s is not None:
            writer.append_samples(out, {"run_id": run_id, "host": base["host"], "point": point, "test": test, **s})
    failed = sum(r["status"] in FAILED for r in results)
    shown = [r for r in results if r.get("level") in (None, "suite") or r["status"] != "ok"]
    progress.point_done(label, ", ".join(_summary(r) for r in shown), failed > 0)
    warning = busy.busy_line(f"point {point} ({label})", results)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    return failed
