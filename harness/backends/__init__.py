"""Backends: where tokens are decoded. Each has a lifecycle: start, run, stop."""
from __future__ import annotations

from pathlib import Path

from harness.backends.base import Backend


def create(cfg, model_path: Path | None) -> Backend:
    """The backend named by cfg.backend.type (validated against schema.BACKENDS)."""
    if cfg.backend.type == "inprocess":
        from harness.backends.inprocess import InProcessBackend
        return InProcessBackend(cfg.backend, model_path)
    if cfg.backend.type in ("http", "http_external"):
        from harness.backends.http import HttpBackend
        return HttpBackend(cfg.backend, model_path if cfg.backend.type == "http" else None)
    if cfg.backend.type in ("replay", "replay_http"):  # the agent suite's recorded completions
        from harness.backends.replay import ReplayBackend, ReplayScripts
        from harness.workloads.agent import load_tasks
        suite = load_tasks(cfg.workload)
        scripts = ReplayScripts({t.prompt: t.reference for t in suite if t.reference})
        if cfg.backend.type == "replay":
            return ReplayBackend(scripts)
        from harness.backends.replay_server import ReplayHttpBackend
        return ReplayHttpBackend(cfg.backend, scripts)
    raise ValueError(f"backend.type={cfg.backend.type!r} has no implementation")
