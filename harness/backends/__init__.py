"""Backends: where tokens are decoded. Each has a lifecycle: start, run, stop."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from harness.backends.base import Backend

if TYPE_CHECKING:
    from harness.backends.replay import ReplayScripts
    from harness.config.schema import BenchConfig


def create(cfg: BenchConfig, model_path: Path | None, *, replay: ReplayScripts | None = None) -> Backend:
    """The backend named by cfg.backend.type (validated against schema.BACKENDS). The replay backends
    play `replay`, the recorded completions the workload gives (workloads.replay_scripts)."""
    if cfg.backend.type == "inprocess":
        from harness.backends.inprocess import InProcessBackend
        if model_path is None:
            raise ValueError("backend.type=inprocess needs a model file (model_path=)")
        return InProcessBackend(cfg.backend, model_path)
    if cfg.backend.type in ("http", "http_external"):
        from harness.backends.http import HttpBackend
        return HttpBackend(cfg.backend, model_path if cfg.backend.type == "http" else None)
    if cfg.backend.type in ("replay", "replay_http"):
        if replay is None:
            raise ValueError(f"backend.type={cfg.backend.type} needs the recorded completions to replay (replay=)")
        if cfg.backend.type == "replay":
            from harness.backends.replay import ReplayBackend
            return ReplayBackend(replay)
        from harness.backends.replay_server import ReplayHttpBackend
        return ReplayHttpBackend(cfg.backend, replay)
    raise ValueError(f"backend.type={cfg.backend.type!r} has no implementation")
