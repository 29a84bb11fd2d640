"""Rules every backend applies to the same config keys, so in-process and server agree."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    from harness.config.schema import BackendConfig


def physical_cores() -> int:
    """n_threads=0 means this many threads."""
    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


def load_mode(cfg: BackendConfig) -> str:
    """The effective load mode: backend.load_mode, else from backend.use_mmap (cfg: the backend config)."""
    mode: str = cfg.load_mode or ("mmap" if cfg.use_mmap else "none")
    return mode
