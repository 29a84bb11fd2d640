"""The task loader: a good file becomes typed Tasks; each bad one stops with one line."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.tasks.suite import DEFAULT_MAX_TURNS, TaskError, load_file, load_suite

GOOD = """\
- id: t1
  prompt: What is 6 x 7?
  tools: [python]
  verifiers:
    - {kind: numeric, expected: 42}
  reference:
    - - "<|channel|>analysis to=python code<|message|>"
      - "print(6 * 7)<|call|>"
    - "<|channel|>final<|message|>42<|return|>"
- id: t2
  prompt: Fix it.
  tools: apply_patch
  files: {src/a.py: "x = 1\\n"}
  max_turns: 3
  developer: Be brief.
  reference_deviations: {recipient_without_prefix: 1}
  verifiers:
    - {kind: file, path: src/a.py, contains: "x = 2"}
  reference:
    - "<|channel|>final<|message|>ok<|return|>"
"""


def write(tmp_path: Path, text: str, name: str = "tasks.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_good_file_loads_into_typed_tasks(tmp_path):
    t1, t2 = load_file(write(tmp_path, GOOD))
    assert (t1.id, t1.tools, t1.max_turns, t1.developer) == ("t1", ("python",), DEFAULT_MAX_TURNS, None)
    assert t1.reference == ("<|channel|>analysis to=python code<|message|>print(6 * 7)<|call|>",
                            "<|channel|>final<|message|>42<|return|>")
    assert [v.kind for v in t1.verifiers] == ["numeric"] and not t1.needs_workspace
    assert (t2.tools, t2.max_turns, t2.developer, dict(t2.reference_deviations)) == (
        ("apply_patch",), 3, "Be brief.", {"recipient_without_prefix": 1})
    assert t2.needs_workspace
    ws = t2.prepare_workspace(tmp_path / "ws")
    assert (ws / "src" / "a.py").read_text() == "x = 1\n"


def test_a_single_task_file_and_a_folder(tmp_path):
    one = "\n".join(line[2:] for line in GOOD.split("- id: t2")[0].splitlines())
    write(tmp_path, one, "a.yaml")
    write(tmp_path, GOOD.replace("t1", "t3").replace("t2", "t4"), "b.yaml")
    assert [t.id for t in load_suite(tmp_path)] == ["t1", "t3", "t4"]
    write(tmp_path, GOOD.replace("t1", "t3"), "c.yaml")
    with pytest.raises(TaskError, match=r"c.yaml: id = 't3': already used in .*b.yaml"):
        load_suite(tmp_path)


@pytest.mark.parametrize("old, new, line", [
    ("tools: [python]", "tools: [python, shell]", r"task t1: tools = 'shell': allowed: browser, python, apply_patch, ui_pane"),
    ("{kind: numeric, expected: 42}", "{kind: numeric, expected: forty}", r"task t1: verifiers\[0\].expected = 'forty': expected a number"),
    ("{kind: numeric, expected: 42}", "{kind: numerc, expected: 42}", r"task t1: verifiers\[0\].kind = 'numerc': allowed: exact, regex"),
    ("{kind: numeric, expected: 42}", "{kind: numeric, expected: 42, tol: 1}", r"task t1: verifiers\[0\].tol = 1: unknown key; allowed: kind, expected, abs_tol, rel_tol"),
    ("  prompt: What is 6 x 7?\n", "", r"task t1: prompt = \(missing\): required; give a string"),
    ("- id: t1", "- id: T 1", r"tasks\[0\]: id = 'T 1': expected lower-case"),
    ("max_turns: 3", "max_turns: 0", r"task t2: max_turns = 0: expected an integer >= 1"),
    ("max_turns: 3", "max_turns: 1", None),
    ('"print(6 * 7)<|call|>"', '"print(6 * 7)<|end|>"', r"task t1: reference\[0\] = .*must end with <\|call\|>"),
    ("42<|return|>", "42<|end|>", r"task t1: reference\[1\] = .*the last completion ends the turn, so it must end with <\|return\|>"),
    ("src/a.py:", "../a.py:", r"task t2: files = '../a.py': expected a relative path inside the workspace"),
    ("{recipient_without_prefix: 1}", "{prefix_missing: 1}", r"task t2: reference_deviations = 'prefix_missing': allowed: recipient_without_prefix"),
    ("  tools: [python]\n", "  tools: [python]\n  reference_errors: {0: tool_error}\n", None),
    ("  tools: [python]\n", "  tools: [python]\n  reference_errors: {1: tool_error}\n", r"task t1: reference_errors = 1: expected the index of a calling completion, 0 to 0"),
    ("  tools: [python]\n", "  tools: [python]\n  reference_errors: {0: crash}\n", r"task t1: reference_errors.0 = 'crash': allowed: unknown_tool"),
    ("  developer: Be brief.\n", "  developer: Be brief.\n  fixture: no_such_fixture\n", r"task t2: fixture = 'no_such_fixture': no such folder in fixtures/"),
    ("  developer: Be brief.\n", "  developer: Be brief.\n  turns: 3\n", r"task t2: turns = 3: unknown key; allowed: id, prompt"),
])
def test_bad_values_stop_with_one_line(tmp_path, old, new, line):
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    if line is None:
        assert len(load_file(path)) == 2
        return
    with pytest.raises(TaskError) as err:
        load_file(path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(str(path) + ": ")
    assert re.search(line, message), message


def test_more_completions_than_turns_and_not_yaml(tmp_path):
    with pytest.raises(TaskError, match=r"task t1: reference = '2 completions': at most max_turns=1"):
        load_file(write(tmp_path, GOOD.replace("  tools: [python]\n", "  tools: [python]\n  max_turns: 1\n")))
    with pytest.raises(TaskError, match=r"tasks.yaml: not valid YAML at line \d+, column"):
        load_file(write(tmp_path, "- id: x\n  prompt: [unclosed\n"))
    with pytest.raises(TaskError, match=r"tasks.yaml: \(top\) = 'just text': expected a task mapping"):
        load_file(write(tmp_path, "just text\n"))
    with pytest.raises(TaskError, match="no such task folder"):
        load_suite(tmp_path / "missing")
