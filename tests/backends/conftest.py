"""Fixtures of the backend tests: the llama-server of this install, on synthetic-tiny settings."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.backends.server import ServerError, resolve_binary

# one thread: the machine runs benchmarks too
SERVED = ("workload=chat", "backend=http", "backend.n_ctx=512", "backend.n_batch=64", "backend.n_ubatch=64",
          "backend.n_threads=1")


@pytest.fixture(scope="module")
def binary(tiny_cfg) -> Path:
    """The llama-server the http backend would start (skips where there is none)."""
    try:
        return resolve_binary(tiny_cfg(*SERVED).backend)
    except ServerError as e:
        pytest.skip(str(e))
