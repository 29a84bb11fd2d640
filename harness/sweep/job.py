"""One sweep point: config -> model file -> backend x workload -> rows on disk."""
from __future__ import annotations

import datetime as dt
import traceback
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from harness import backends
from harness.config.validate import validate
from harness.metrics.stats import bench_columns, rates
from harness.models import cache
from harness.records import env as envrec
from harness.records import writer
from harness.sweep import progress
from harness.sweep.rss import PeakRss
from harness.workloads import pp_tg


def _config_columns(cfg: DictConfig) -> dict[str, Any]:
    b, w = cfg.backend, cfg.workload
    return {"backend": b.type, "mode": cfg.mode, "workload": w.name, "model_name": cfg.model.name,
            "quant": cfg.model.quant, "n_ctx": b.n_ctx, "n_batch": b.n_batch, "n_ubatch": b.n_ubatch,
            "type_k": b.type_k, "type_v": b.type_v, "n_gpu_layers": b.n_gpu_layers,
            "flash_attn": b.flash_attn, "repetitions": w.repetitions}


def _one_line(exc: BaseException) -> str:
    return (f"{type(exc).__name__}: {exc}".splitlines() or [""])[0][:500]


def run_point(cfg: DictConfig, out: Path, run_id: str, point: int, label: str) -> int:
    """Run every test of one point, appending a row per test; returns the number that failed."""
    validate(cfg)
    out.mkdir(parents=True, exist_ok=True)
    writer.write_json(out / "env.json", envrec.environment())
    base = {"run_id": run_id, "point": point, **_config_columns(cfg), **envrec.row_columns()}
    tests = pp_tg.plan(cfg.workload)
    results: list[dict[str, Any]] = []
    backend = None
    with PeakRss() as rss:
        try:
            path = cache.prepare(cfg.model)
            base["model_filename"] = path.name
            backend = backends.create(cfg, path)
            try:
                backend.start()
            finally:
                base.update(backend.info())
            runner = pp_tg.PpTg(backend, cfg.backend.n_batch, cfg.workload.seed)
            for test in tests:
                row = {"test": test.name, "n_prompt": test.n_prompt, "n_gen": test.n_gen,
                       "n_depth": test.n_depth,
                       "test_time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
                try:
                    samples = runner.run(test, cfg.workload.repetitions, cfg.workload.warmup)
                    row.update(status="ok", **bench_columns(samples, test.n_tokens))
                    row["_samples"] = samples
                except Exception as exc:  # a failed test becomes a row, the sweep goes on
                    row.update(status="failed", error=_one_line(exc))
                results.append(row)
        except Exception as exc:
            if not isinstance(exc, (RuntimeError, OSError, ValueError)):
                traceback.print_exc()
            done = {r["test"] for r in results}
            results += [{"test": t.name, "n_prompt": t.n_prompt, "n_gen": t.n_gen, "n_depth": t.n_depth,
                         "status": "failed", "error": _one_line(exc)} for t in tests if t.name not in done]
        finally:
            if backend is not None:
                backend.stop()
    failed = 0
    for r in results:
        samples = r.pop("_samples", None)
        writer.append_row(out, {**base, **r, "peak_rss_mb": rss.mb})
        if samples is not None:
            writer.append_samples(out, {"run_id": run_id, "point": point, "test": r["test"],
                                        "samples_ns": samples,
                                        "samples_ts": rates(samples, r["n_prompt"] + r["n_gen"])})
        failed += r["status"] != "ok"
    summary = ", ".join(f"{r['test']} {r['avg_ts']:.2f}±{r['stddev_ts']:.2f} t/s" if r["status"] == "ok"
                        else f"{r['test']} FAILED: {r.get('error', '')}" for r in results)
    progress.point_done(label, summary, failed > 0)
    return failed

