"""Shared fixtures. Tests run real llama.cpp (llama-cpp-python) on synthetic-tiny, no mocks.

The whole session uses a private model cache (HARNESS_CACHE), also seen by the subprocesses the
CLI tests start, so nothing is read from or written to the user's cache.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
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
    _seed_repack_verdict()
    from harness.workloads import install_checks
    install_checks()  # plan() and validate() check model files and the agent suite, as under `harness`


def _seed_repack_verdict() -> None:
    """backend.repack=auto resolves from the session cache's verdict, written here as false (the value
    that is safe on every CPU) unless the cache already has one. The probe itself builds synthetic-small
    in three quants and takes minutes: tests/backends/test_repack.py runs it on a cache of its own."""
    try:
        from harness.backends import repack
        from harness.models import vocab
        path = repack.cache_file(vocab.cache_root())
    except Exception as exc:  # then auto is probed as a user's first run would
        warnings.warn(f"repack verdict not seeded ({exc!r}): the first backend.repack=auto probes", stacklevel=1)
        return
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
        tmp.write_text(json.dumps({"repack": False, "reason": "seeded by the test session (tests/conftest.py)"}) + "\n")
        os.replace(tmp, path)


@pytest.fixture(autouse=True)
def _repack_verdict_seeded() -> None:
    """The verdict is keyed by the llama.cpp library files: seeded again should they change mid-session
    (a rebuild), so that no test pays for the probe."""
    _seed_repack_verdict()


def pytest_unconfigure(config: pytest.Config) -> None:
    for path in _OWN_CACHE:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_cfg():
    from harness.config.plan import plan

    def make(*overrides: str):
        """A composed config whose backend.repack is resolved (a backend built directly, not by a
        sweep, is given true or false; auto resolves to the session cache's verdict, seeded above)."""
        from harness.backends.repack import resolve_repack
        cfg = plan([*TINY, *overrides], multirun=False)[0]
        cfg.backend.repack = resolve_repack(cfg.backend.repack)
        return cfg
    return make


@pytest.fixture(scope="session")
def tiny_model(tiny_cfg) -> Path:
    from harness.models import cache
    return cache.prepare(tiny_cfg().model)


TINY_RUN = ["model=synthetic-tiny", "workload.n_prompt=32", "workload.n_gen=4", "workload.repetitions=2",
            "backend.n_ctx=256", "backend.n_ubatch=8"]
SWEEP_2X2 = [*TINY_RUN, "model.quant=F16,Q8_0", "backend.n_batch=16,32"]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """(the finished `harness bench` of TINY_RUN, its run folder): one single run (no -m) that the tests
    needing a finished run folder share. Read it, or copy it before changing anything."""
    from cli_runner import harness
    run = tmp_path_factory.mktemp("tiny-run") / "run"
    return harness("bench", *TINY_RUN, f"hydra.run.dir={run}"), run


@pytest.fixture(scope="session")
def sweep_2x2(tmp_path_factory):
    """(the finished `harness bench -m` of SWEEP_2X2, its sweep folder): one 2x2 multirun of synthetic-tiny
    that the tests reading it share (its rows in tests/sweep, its report and figures in tests/report).
    Read it, never write into it."""
    from cli_runner import harness
    run = tmp_path_factory.mktemp("sweep-2x2")
    return harness("bench", "-m", *SWEEP_2X2, f"hydra.sweep.dir={run}"), run


@pytest.fixture(scope="session")
def vulkan_device():
    """The first Vulkan device of the loaded llama.cpp; tests that need one skip, saying why, without it."""
    from harness.backends.devices import backend_names, devices
    if "Vulkan" not in backend_names():
        pytest.skip("not a Vulkan build of llama.cpp: `make test-vulkan` runs these on one")
    found = [d for d in devices() if d.name.startswith("Vulkan")]
    if not found:
        pytest.skip("a Vulkan build without a Vulkan device (a software one shows with GGML_VK_VISIBLE_DEVICES=0)")
    return found[0]
