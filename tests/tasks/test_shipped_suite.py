"""The shipped suite: it loads, covers every tool and verifier kind, its references are clean
Harmony, and replayed through the real tools (offline) every task passes its verifiers."""
from __future__ import annotations

import importlib
from collections import Counter

import pytest

from harness.tasks.check import grounded, replay_problems
from harness.tasks.reference import reference_problems, reference_turns
from harness.tasks.suite import SUITE_DIR, TOOLS, load_suite
from harness.tasks.verifiers import KINDS, ExactAnswer, NumericAnswer

SUITE = load_suite()
TOOL_MODULES = {"browser": "harness.agent.tools.browser", "python": "harness.agent.tools.python_tool",
                "apply_patch": "harness.agent.tools.apply_patch", "ui_pane": "harness.agent.tools.ui_pane"}


def _available(tool: str) -> bool:
    try:
        importlib.import_module(TOOL_MODULES[tool])
    except ImportError:
        return False
    return True


def test_the_suite_covers_each_tool_kind_and_case():
    assert len(SUITE) >= 30
    single = Counter(t.tools[0] for t in SUITE if len(t.tools) == 1 and not _irrelevant(t))
    assert all(single[tool] >= 4 for tool in TOOLS), single
    assert sum(1 for t in SUITE if len(t.tools) > 1 and not _irrelevant(t)) >= 4   # multi-tool tasks
    assert sum(1 for t in SUITE if _irrelevant(t)) >= 3
    kinds = Counter(v.kind for t in SUITE for v in t.verifiers)
    assert set(kinds) == set(KINDS), set(KINDS) - set(kinds)
    assert kinds["calls"] >= 5
    deviations = Counter()
    for t in SUITE:
        deviations.update(t.reference_deviations)
    assert deviations["recipient_without_prefix"] >= 1 and deviations["tool_call_on_analysis"] >= 1
    assert all(t.source is not None and t.source.parent == SUITE_DIR for t in SUITE)


def _irrelevant(task) -> bool:
    return any(v.kind == "no_call" for v in task.verifiers)


@pytest.mark.parametrize("task", SUITE, ids=lambda t: t.id)
def test_reference_is_clean_harmony(task, enc):
    assert reference_problems(task, enc) == []
    turns = reference_turns(task, enc)
    assert [bool(t.calls) for t in turns] == [True] * (len(turns) - 1) + [False]


@pytest.mark.parametrize("task", SUITE, ids=lambda t: t.id)
def test_reference_replays_through_the_real_tools_and_passes(task, enc):
    missing = [t for t in task.tools if not _available(t)]
    if missing:
        pytest.skip(f"tool(s) not built yet: {', '.join(missing)}")
    assert replay_problems(task, enc) == []


def test_a_wrong_answer_fails_and_an_ungrounded_one_is_caught():
    task = next(t for t in SUITE if t.id == "py_prime_sum")
    numeric = next(v for v in task.verifiers if isinstance(v, NumericAnswer))
    assert grounded(numeric, "5736396\n[exit status 0]")
    assert not grounded(numeric, "5736397\n[exit status 0]")
    assert grounded(ExactAnswer(["Varnholt Bridge"]), "L5: - The Varnholt  bridge, built in 1631")
