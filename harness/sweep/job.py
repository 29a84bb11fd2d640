"""One sweep point: config -> model file -> backend x workload -> rows on disk."""
from __future__ import annotations

import datetime as dt
import traceback
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from harness import backends, workloads
from harness.backends.base import Unsupported
from harness.config.schema import REPLAY_BACKENDS
from harness.config.validate import validate
from harness.models import cache
from harness.records import env as envrec
from harness.records import writer
from harness.records.merge import POINT
from harness.sweep import progress, resume
from harness.sweep.rss import PeakRss


def _config_columns(cfg: DictConfig) -> dict[str, Any]:
    b, w = cfg.backend, cfg.workload
    return {"backend": b.type, "mode": cfg.mode, "workload": w.name, "model_name": cfg.model.name,
            "quant": cfg.model.quant, "n_ctx": b.n_ctx, "n_batch": b.n_batch, "n_ubatch": b.n_ubatch,
            "type_k": b.type_k, "type_v": b.type_v, "n_gpu_layers": b.n_gpu_layers,
            "flash_attn": b.flash_attn, "repetitions": w.repetitions,
            "reasoning_effort": cfg.harmony.reasoning_effort if cfg.mode == "harmony" else ""}


def _one_line(exc: BaseException) -> str:
    return (f"{type(exc).__name__}: {exc}".splitlines() or [""])[0][:500]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _summary(r: dict[str, Any]) -> str:
    if r.get("level") == "suite":
        return (f"agent suite success {r['success']:.2f}, pass@1 {r['pass_at_1']:.2f}, "
                f"valid calls {r['valid_call_rate']:.2f}")
    if r["status"] != "ok":
        return f"{r['test']} {r['status'].upper()}: {r.get('error', '')}"
    spread = f"±{r['stddev_ts']:.2f}" if isinstance(r.get("stddev_ts"), float) else ""
    return f"{r['test']} {r.get('avg_ts', float('nan')):.2f}{spread} t/s"


def run_point(cfg: DictConfig, out: Path, run_id: str, point: int, label: str) -> int:
    """Run every case of one point, appending a row per case; returns the number that failed."""
    validate(cfg)
    out.mkdir(parents=True, exist_ok=True)
    writer.write_json(out / "env.json", envrec.environment())
    writer.write_json(out / POINT, resume.point_record(cfg))  # what the point is, for resume and merge
    base = {"run_id": run_id, "point": point, **_config_columns(cfg), **envrec.row_columns()}
    cases = workloads.plan(cfg)
    results: list[dict[str, Any]] = []
    backend = None
    with PeakRss() as rss:
        try:
            path = None if cfg.backend.type in REPLAY_BACKENDS else cache.prepare(cfg.model)
            base["model_filename"] = path.name if path is not None else ""
            base["model_path"] = str(path or "")
            backend = backends.create(cfg, path)
            try:
                backend.start()
            finally:
                base.update(backend.info())
            workload = workloads.create(cfg, backend)
            for case in workload.cases():
                row = {**case.columns(), "test_time": _now()}
                try:
                    row.update(workload.run(case))
                except Unsupported as exc:
                    row.update(status="unsupported", error=_one_line(exc))
                except Exception as exc:  # a failed case becomes a row, the sweep goes on
                    row.update(status="failed", error=_one_line(exc))
                results.append(row)
            if hasattr(workload, "aggregate"):  # rows over the cases (agent: per task and per suite)
                results += workload.aggregate(results)
        except Exception as exc:
            if not isinstance(exc, (RuntimeError, OSError, ValueError)):
                traceback.print_exc()
            done = {r["test"] for r in results}
            status = "unsupported" if isinstance(exc, Unsupported) else "failed"
            results += [{**c.columns(), "status": status, "error": _one_line(exc)}
                        for c in cases if c.name not in done]
        finally:
            if backend is not None:
                backend.stop()
    samples = [(r["test"], r.pop("_samples", None)) for r in results]
    writer.append_rows(out, [{**base, **r, "peak_rss_mb": rss.mb} for r in results])
    for test, s in samples:
        if s is not None:
            writer.append_samples(out, {"run_id": run_id, "host": base["host"], "point": point, "test": test, **s})
    failed = sum(r["status"] == "failed" for r in results)
    shown = [r for r in results if r.get("level") in (None, "suite") or r["status"] != "ok"]
    progress.point_done(label, ", ".join(_summary(r) for r in shown), failed > 0)
    return failed
