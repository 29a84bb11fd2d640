"""Each verifier kind on passing and failing episodes (answers, workspace, tool state)."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from harness.agent.outcome import Call, Outcome
from harness.tasks.spec import SpecError
from harness.tasks.verifiers import KINDS, build, extract_number, normalise


def verdict(spec: dict, outcome: Outcome):
    return build(spec, "v").check(outcome, None)


def answer(text: str | None) -> Outcome:
    return Outcome(final=text, stop="final" if text is not None else "max_turns")


def test_every_kind_is_built_by_its_name():
    assert set(KINDS) == {"exact", "regex", "numeric", "no_call", "file", "file_absent", "command",
                          "calls", "tool_state"}
    with pytest.raises(SpecError, match=r"v.kind = 'numerc': allowed: exact, regex, numeric"):
        build({"kind": "numerc"}, "v")


# --- answers ---------------------------------------------------------------------------------------

def test_normalise_folds_case_width_space_and_end_punctuation():
    assert normalise("  **Paris**.\n") == "paris"
    assert normalise("ＡＢＣ  Def") == "abc def"          # NFKC turns full-width letters to ASCII
    assert normalise("“Hello,   World!”") == "hello, world"  # inner punctuation stays


@pytest.mark.parametrize("text, ok", [("Paris", True), ("paris.", True), ("  PARIS!  ", True),
                                      ("The answer is Paris", False), ("Pari", False), (None, False)])
def test_exact(text, ok):
    assert verdict({"kind": "exact", "expected": ["Paris", "Paris, France"]}, answer(text)).passed is ok


def test_exact_reason_names_the_answer():
    v = verdict({"kind": "exact", "expected": "4"}, answer("five"))
    assert not v.passed and "'five'" in v.reason and "'4'" in v.reason
    assert "no final answer" in verdict({"kind": "exact", "expected": "4"}, answer(None)).reason


def test_regex_search_with_flags():
    spec = {"kind": "regex", "pattern": r"\bblue\s+heron\b", "flags": ["ignorecase"]}
    assert verdict(spec, answer("It was a Blue  Heron, I think")).passed
    assert not verdict({**spec, "flags": []}, answer("It was a Blue Heron")).passed
    with pytest.raises(SpecError, match=r"v.pattern = '\(unclosed': not a valid regular expression"):
        build({"kind": "regex", "pattern": "(unclosed"}, "v")
    with pytest.raises(SpecError, match=r"v.flags = 'icase': allowed: ignorecase"):
        build({"kind": "regex", "pattern": "x", "flags": "icase"}, "v")


@pytest.mark.parametrize("text, value", [
    ("The total is 1,234.5 km.", 1234.5), ("-3e2", -300.0), ("about 42%", 42.0),
    ("first 7 then 9", 9.0), ("x = \u22122.5", -2.5), ("１２３", 123.0), ("range 2024-06", 6.0),
    ("$0.75 each", 0.75), ("version v1.2.3 and 8", 8.0), ("no digits here", None), (".5 of it", 0.5),
    ("1,2345", 2345.0),
])
def test_extract_number(text, value):
    assert extract_number(text) == value


def test_numeric_with_tolerances():
    spec = {"kind": "numeric", "expected": 1647.01, "abs_tol": 0.01}
    assert verdict(spec, answer("About $1,647.01 after ten years.")).passed
    assert verdict(spec, answer("1647.009")).passed
    v = verdict(spec, answer("1,648"))
    assert not v.passed and "1648 is not 1647.01" in v.reason
    assert verdict({"kind": "numeric", "expected": 1000, "rel_tol": 0.01}, answer("~1009")).passed
    assert not verdict({"kind": "numeric", "expected": 1000, "rel_tol": 0.001}, answer("~1009")).passed
    assert not verdict({"kind": "numeric", "expected": 5736396, "abs_tol": 0}, answer("5736397")).passed
    assert verdict({"kind": "numeric", "expected": 5736396}, answer("5736397")).passed  # rel_tol 1e-6
    assert "holds no number" in verdict(spec, answer("I don't know")).reason
    with pytest.raises(SpecError, match=r"v.abs_tol = -1.0: a tolerance must be >= 0"):
        build({"kind": "numeric", "expected": 1, "abs_tol": -1}, "v")
    with pytest.raises(SpecError, match=r"v.expected = True: expected a number"):
        build({"kind": "numeric", "expected": True}, "v")


def test_no_call_requires_an_answer_and_no_calls():
    spec = {"kind": "no_call", "answer": {"kind": "regex", "pattern": "bonjour", "flags": "ignorecase"}}
    assert verdict(spec, answer("Bonjour !")).passed
    assert not verdict(spec, answer("Hello")).passed                    # the inner answer check
    called = Outcome(final="Bonjour", calls=[Call("browser.search", "search", {"query": "x"}, "analysis")])
    v = verdict(spec, called)
    assert not v.passed and "expected no tool call, got 1: browser.search" in v.reason
    assert not verdict({"kind": "no_call"}, answer(None)).passed
    with pytest.raises(SpecError, match=r"v.answer.kind = 'file': allowed: exact, regex, numeric"):
        build({"kind": "no_call", "answer": {"kind": "file", "path": "x"}}, "v")


# --- workspace -------------------------------------------------------------------------------------

@pytest.fixture
def ws(tmp_path: Path) -> Outcome:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "calc.py").write_text("def mean(xs):\n    return sum(xs) / len(xs)\n")
    (tmp_path / "check.py").write_text("from pkg.calc import mean\nassert mean([1, 2, 3]) == 2\nprint('OK')\n")
    (tmp_path / "bad.py").write_text("import sys\nprint('boom')\nsys.exit(3)\n")
    (tmp_path / "slow.py").write_text("import time\ntime.sleep(30)\n")
    return Outcome(final="done", workspace=tmp_path)


def test_file_checks(ws):
    content = "def mean(xs):\n    return sum(xs) / len(xs)\n"
    assert verdict({"kind": "file", "path": "pkg/calc.py", "equals": content}, ws).passed
    assert verdict({"kind": "file", "path": "pkg/calc.py", "contains": ["/ len(xs)", "def mean"]}, ws).passed
    assert verdict({"kind": "file", "path": "pkg/calc.py", "regex": r"return\s+sum"}, ws).passed
    assert "differs" in verdict({"kind": "file", "path": "pkg/calc.py", "equals": content + "\n"}, ws).reason
    assert "does not contain" in verdict({"kind": "file", "path": "pkg/calc.py", "contains": "- 1"}, ws).reason
    assert "is missing" in verdict({"kind": "file", "path": "pkg/other.py"}, ws).reason
    assert "no workspace" in verdict({"kind": "file", "path": "a"}, answer("x")).reason
    for bad in ("/etc/passwd", "../x", "a/../../b"):
        with pytest.raises(SpecError, match="relative path inside the workspace"):
            build({"kind": "file", "path": bad}, "v")


def test_file_absent(ws):
    assert verdict({"kind": "file_absent", "path": ["old.py", "pkg/gone.py"]}, ws).passed
    v = verdict({"kind": "file_absent", "path": ["old.py", "bad.py"]}, ws)
    assert not v.passed and "bad.py should be absent" in v.reason


def test_command_runs_in_the_workspace_with_this_python(ws):
    assert verdict({"kind": "command", "run": "python check.py", "stdout_contains": "OK"}, ws).passed
    v = verdict({"kind": "command", "run": ["python", "bad.py"]}, ws)
    assert not v.passed and "exited 3 (expected 0)" in v.reason and "boom" in v.reason
    assert verdict({"kind": "command", "run": "python bad.py", "exit_code": 3}, ws).passed
    v = verdict({"kind": "command", "run": "python slow.py", "timeout": 0.5}, ws)
    assert not v.passed and "ran past 0.5 s" in v.reason
    assert "could not start" in verdict({"kind": "command", "run": "no-such-program-xyz"}, ws).reason
    with pytest.raises(SpecError, match=r"v.run = \[\]: expected a command line"):
        build({"kind": "command", "run": []}, "v")


# --- tool state ------------------------------------------------------------------------------------

STATE = {"panes": [{"id": "p1", "title": "Logs", "x": 0, "w": 40, "focused": False},
                   {"id": "p2", "title": "Editor", "x": 40, "w": 80, "focused": True}],
         "focus": "p2"}


def state_outcome(state=STATE) -> Outcome:
    return Outcome(final="ok", tool_state={"ui_pane": state})


def test_tool_state_subset_match():
    spec = {"kind": "tool_state", "tool": "ui_pane",
            "expect": {"focus": "p2", "panes": [{"title": "Logs", "w": 40}, {"title": "Editor"}]}}
    assert verdict(spec, state_outcome()).passed
    swapped = {**spec, "expect": {"panes": [{"title": "Editor"}, {"title": "Logs"}]}}
    v = verdict(swapped, state_outcome())
    assert not v.passed and "panes[0].title is 'Logs', expected 'Editor'" in v.reason
    assert verdict({**swapped, "unordered": True}, state_outcome()).passed
    v = verdict({**spec, "expect": {"panes": [{"title": "Logs"}]}}, state_outcome())
    assert not v.passed and "expected a list of 1" in v.reason                     # no extra panes
    v = verdict({**spec, "expect": {"panes": [{}, {"focused": 1}]}}, state_outcome())
    assert not v.passed and "panes[1].focused is True, expected 1" in v.reason    # bool is no int
    assert "missing" in verdict({**spec, "expect": {"layout": "grid"}}, state_outcome()).reason
    assert "no state of ui_pane" in verdict(spec, Outcome(final="x")).reason
    assert verdict({**spec, "expect": {"panes": [{"w": 40.0}, {}]}}, state_outcome()).passed


def test_command_sees_no_parent_secrets_and_its_children_die_at_the_timeout(ws, monkeypatch, tmp_path):
    monkeypatch.setenv("HARNESS_TEST_SECRET", "hunter2")
    (tmp_path / "env.py").write_text("import os, sys\nsys.exit(3 if 'HARNESS_TEST_SECRET' in os.environ else 0)\n")
    assert verdict({"kind": "command", "run": "python env.py"}, ws).passed
    (tmp_path / "child.py").write_text("import time\ntime.sleep(1.5)\nopen('survivor', 'w').close()\n")
    (tmp_path / "spawn.py").write_text(
        "import subprocess, sys, time\nsubprocess.Popen([sys.executable, 'child.py'])\ntime.sleep(30)\n")
    assert "ran past" in verdict({"kind": "command", "run": "python spawn.py", "timeout": 0.5}, ws).reason
    time.sleep(2)
    assert not (tmp_path / "survivor").exists()       # the whole session was killed, not only spawn.py
