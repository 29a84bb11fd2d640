"""Shared fixtures. Tests run real llama.cpp (llama-cpp-python) on synthetic-tiny, no mocks.

The whole session uses a private model cache (HARNESS_CACHE), also seen by the subprocesses the
CLI tests start, so nothing is read from or written to the user's cache.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

TINY = ["model=synthetic-tiny"]


_OWN_CACHE: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    """HARNESS_TEST_CACHE reuses a cache across runs; by default each session gets a fresh one."""
    if "HARNESS_TEST_CACHE" not in os.environ:
        os.environ["HARNESS_TEST_CACHE"] = tempfile.mkdtemp(prefix="harness-test-cache-")
        _OWN_CACHE.append(os.environ["HARNESS_TEST_CACHE"])
    os.environ["HARNESS_CACHE"] = os.environ["HARNESS_TEST_CACHE"]
    os.environ.pop("TIKTOKEN_ENCODINGS_BASE", None)


def pytest_unconfigure(config: pytest.Config) -> None:
    for path in _OWN_CACHE:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_cfg():
    from harness.config.plan import plan

    def make(*overrides: str):
        """A composed config whose backend.repack is resolved (a backend built directly, not by a
        sweep, is given true or false; auto is probed once per session's cache)."""
        from harness.models.cache import resolve_repack
        cfg = plan([*TINY, *overrides], multirun=False)[0]
        cfg.backend.repack = resolve_repack(cfg.backend.repack)
        return cfg
    return make


@pytest.fixture(scope="session")
def tiny_model(tiny_cfg) -> Path:
    from harness.models import cache
    return cache.prepare(tiny_cfg().model)
