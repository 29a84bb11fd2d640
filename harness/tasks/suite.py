"""The agent task suite: YAML files under harness/tasks/data/suite/, loaded into typed Tasks.

A file holds one task (a mapping) or several (a list of mappings):

    - id: py_compound_interest            # unique across the suite: [a-z0-9][a-z0-9_.-]*
      prompt: What is 1000 at 5% a year, compounded monthly, after 10 years?
      tools: [python]                     # a subset of browser, python, apply_patch, ui_pane
      developer: Answer with the number only.   # optional developer instructions
      fixture: stats_mean                 # optional: harness/tasks/data/fixtures/<name>/ is copied
      files: {notes.txt: "..."}           # optional: inline files written into the workspace
      max_turns: 8                        # default 8
      verifiers:                          # all must pass (kinds: harness.tasks.verifiers.KINDS)
        - {kind: numeric, expected: 1647.01, abs_tol: 0.01}
      reference:                          # the correct completions, one per turn, token-exact
        - <|channel|>analysis to=python code<|message|>print(...)<|call|>
        - <|channel|>final<|message|>1647.01<|return|>
      reference_deviations: {}            # parse deviations the reference has on purpose
      reference_errors: {}                # calls of the reference that fail on purpose: {turn: kind}

A completion is the text after the prompt's trailing `<|start|>assistant`: every one but the last
ends with `<|call|>` (a tool call), the last with `<|return|>` (the final answer). A completion may
be written as a list of strings, joined with nothing, to keep lines short.

Any bad file stops the load with one line: the file, the key, the value and what is allowed.
"""
from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.agent.outcome import ERROR_KINDS
from harness.harmony.parse import DEVIATIONS
from harness.tasks.spec import SpecError, check_keys, get, get_str_list, one_of
from harness.tasks.verdict import Verifier
from harness.tasks.verifiers import build
from harness.tasks.workspace import workspace_path

DATA_DIR = Path(__file__).parent / "data"
SUITE_DIR = DATA_DIR / "suite"
FIXTURES_DIR = DATA_DIR / "fixtures"
TOOLS: tuple[str, ...] = ("browser", "python", "apply_patch", "ui_pane")
DEFAULT_MAX_TURNS = 8
CALL_END, FINAL_END = "<|call|>", "<|return|>"
_ID = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_KEYS = ("id", "prompt", "tools", "developer", "fixture", "files", "max_turns", "verifiers",
         "reference", "reference_deviations", "reference_errors")


class TaskError(ValueError):
    """A task file that cannot be used; the message is one line naming the file and the key."""


@dataclass(frozen=True)
class Task:
    """One task of the suite, as its file describes it."""

    id: str
    prompt: str
    tools: tuple[str, ...]
    verifiers: tuple[Verifier, ...]
    reference: tuple[str, ...]
    max_turns: int = DEFAULT_MAX_TURNS
    developer: str | None = None
    fixture: str | None = None
    files: Mapping[str, str] = field(default_factory=dict)
    reference_deviations: Mapping[str, int] = field(default_factory=dict)
    reference_errors: Mapping[int, str] = field(default_factory=dict)
    source: Path | None = None

    @property
    def needs_workspace(self) -> bool:
        """A workspace is laid out for a fixture, inline files, or apply_patch."""
        return bool(self.fixture or self.files or "apply_patch" in self.tools)

    def prepare_workspace(self, dest: Path) -> Path:
        """Lay out the fixture and the inline files in `dest` (made if missing); returns `dest`."""
        dest.mkdir(parents=True, exist_ok=True)
        if self.fixture:
            shutil.copytree(FIXTURES_DIR / self.fixture, dest, dirs_exist_ok=True)
        for rel, text in self.files.items():
            path = dest / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return dest


def _completion(value: Any, key: str) -> str:
    """A completion: a string, or a list of strings joined with nothing."""
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        value = "".join(value)
    if not isinstance(value, str) or not value:
        raise SpecError(key, value, "expected a completion: a string, or a list of strings to join")
    return value


def _reference(spec: Mapping[str, Any]) -> tuple[str, ...]:
    """The reference completions: calls ending <|call|>, then one final ending <|return|>."""
    items = get(spec, "reference", list, "")
    if not items:
        raise SpecError("reference", items, "expected at least one completion")
    out = tuple(_completion(v, f"reference[{i}]") for i, v in enumerate(items))
    for i, text in enumerate(out):
        last = i == len(out) - 1
        end = FINAL_END if last else CALL_END
        if not text.endswith(end):
            what = ("the last completion ends the turn" if last
                    else "a completion before the last calls a tool")
            raise SpecError(f"reference[{i}]", text[-40:], f"{what}, so it must end with {end}")
    return out


def _deviations(spec: Mapping[str, Any]) -> dict[str, int]:
    """The parse deviations the reference has on purpose: {name: count}."""
    found = get(spec, "reference_deviations", dict, "", {})
    for name in found:
        one_of(name, DEVIATIONS, "reference_deviations")
        get(found, name, int, "reference_deviations")
    return dict(found)


def _errors(spec: Mapping[str, Any], turns: int) -> dict[int, str]:
    """The reference's calls that fail on purpose: {completion index: ERROR_KINDS key}."""
    found = get(spec, "reference_errors", dict, "", {})
    for turn, kind in found.items():
        if not isinstance(turn, int) or isinstance(turn, bool) or not 0 <= turn < turns - 1:
            raise SpecError("reference_errors", turn,
                            f"expected the index of a calling completion, 0 to {turns - 2}")
        one_of(kind, ERROR_KINDS, f"reference_errors.{turn}")
    return dict(found)


def _files(spec: Mapping[str, Any]) -> dict[str, str]:
    """Inline workspace files: {relative path: text}."""
    files = get(spec, "files", dict, "", {})
    for rel in files:
        workspace_path(rel, "files")
        get(files, rel, str, "files")
    return dict(files)


def parse_task(spec: Any, label: str = "task", source: Path | None = None) -> Task:
    """A Task from its mapping; error lines name it by its id, or by `label` ("tasks[3]") until
    the id is known."""
    task_id = spec.get("id") if isinstance(spec, Mapping) else None
    if isinstance(task_id, str) and _ID.fullmatch(task_id):
        label = f"task {task_id}"
    try:
        check_keys(spec, _KEYS, "")
        task_id = get(spec, "id", str, "")
        if not _ID.fullmatch(task_id):
            raise SpecError("id", task_id, "expected lower-case letters, digits, _ . - (starting alnum)")
        return _task(spec, task_id, source)
    except SpecError as exc:
        raise SpecError(f"{label}: {exc.key}", exc.value, exc.allowed) from None


def _task(spec: Mapping[str, Any], task_id: str, source: Path | None) -> Task:
    tools = get_str_list(spec, "tools", "", default=[])
    for tool in tools:
        one_of(tool, TOOLS, "tools")
    fixture = get(spec, "fixture", str, "", None)
    if fixture is not None and not (FIXTURES_DIR / fixture).is_dir():
        raise SpecError("fixture", fixture, f"no such folder in {FIXTURES_DIR.name}/")
    max_turns = get(spec, "max_turns", int, "", DEFAULT_MAX_TURNS)
    if max_turns < 1:
        raise SpecError("max_turns", max_turns, "expected an integer >= 1")
    items = get(spec, "verifiers", list, "")
    if not items:
        raise SpecError("verifiers", items, "expected at least one verifier")
    verifiers = tuple(build(v, f"verifiers[{i}]") for i, v in enumerate(items))
    reference = _reference(spec)
    if len(reference) > max_turns:
        raise SpecError("reference", f"{len(reference)} completions", f"at most max_turns={max_turns}")
    return Task(id=task_id, prompt=get(spec, "prompt", str, ""), tools=tuple(tools),
                verifiers=verifiers, reference=reference, max_turns=max_turns,
                developer=get(spec, "developer", str, "", None), fixture=fixture,
                files=_files(spec), reference_deviations=_deviations(spec),
                reference_errors=_errors(spec, len(reference)), source=source)


def load_file(path: Path) -> list[Task]:
    """The tasks of one YAML file; TaskError (one line) on anything wrong in it."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TaskError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise TaskError(f"{path}: not valid YAML{at}: {getattr(exc, 'problem', None) or exc}") from None
    items = data if isinstance(data, list) else [data]
    try:
        if not items or not all(isinstance(i, Mapping) for i in items):
            raise SpecError("(top)", data, "expected a task mapping or a list of task mappings")
        return [parse_task(item, f"tasks[{i}]" if isinstance(data, list) else "task", path)
                for i, item in enumerate(items)]
    except SpecError as exc:
        raise TaskError(f"{path}: {exc}") from None


def load_suite(folder: Path = SUITE_DIR) -> list[Task]:
    """Every task of the *.yaml files in `folder` (sorted by file name); ids must be unique."""
    if not folder.is_dir():
        raise TaskError(f"{folder}: no such task folder")
    tasks: list[Task] = []
    seen: dict[str, Path | None] = {}
    for path in sorted(folder.glob("*.yaml")):
        for task in load_file(path):
            if task.id in seen:
                raise TaskError(f"{path}: id = {task.id!r}: already used in {seen[task.id]}; "
                                "ids must be unique")
            seen[task.id] = path
            tasks.append(task)
    if not tasks:
        raise TaskError(f"{folder}: no tasks (expected *.yaml files)")
    return tasks
