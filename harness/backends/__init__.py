"""Backends: where tokens are decoded. Each has a lifecycle: start, run, stop."""
from __future__ import annotations

from pathlib import Path

from harness.backends.base import Backend


def create(cfg, model_path: Path) -> Backend:
    """The backend named by cfg.backend.type (validated against schema.BACKENDS)."""
    if cfg.backend.type == "inprocess":
        from harness.backends.inprocess import InProcessBackend
        return InProcessBackend(cfg.backend, model_path)
    if cfg.backend.type in ("http", "http_external"):
        from harness.backends.http import HttpBackend
        return HttpBackend(cfg.backend, model_path if cfg.backend.type == "http" else None)
    raise ValueError(f"backend.type={cfg.backend.type!r} has no implementation")
