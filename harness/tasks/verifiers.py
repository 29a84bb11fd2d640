"""The verifiers of a task: the final answer, the workspace, the calls, the tools' state.

Each kind is one small class with `from_spec` (its YAML mapping) and `check(outcome, task)`;
KINDS maps the `kind:` of a task file to its class, and `build` makes one from a mapping.

answer:    exact (normalised), regex (search), numeric (the last number, with tolerance)
calls:     no_call (irrelevance: no call at all, and a final answer, optionally checked too),
           calls (BFCL's AST checker, calls.py)
workspace: file (exists / equals / contains / regex), file_absent, command (workspace.py)
state:     tool_state (a JSON-subset match against outcome.tool_state[tool])
"""
from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from harness.agent.outcome import Outcome
from harness.tasks.calls import CallsVerifier
from harness.tasks.spec import SpecError, check_keys, compile_regex, get, get_str_list, is_number, show
from harness.tasks.verdict import Verdict, Verifier, fail, ok
from harness.tasks.workspace import CommandCheck, FileAbsent, FileCheck

__all__ = ["KINDS", "Verdict", "Verifier", "build", "extract_number", "normalise", "numbers_in"]


# --- the final answer -----------------------------------------------------------------------------

def _strip_punctuation(text: str) -> str:
    """Text without punctuation (Unicode category P*) or spaces at either end."""
    def edge(ch: str) -> bool:
        return ch.isspace() or unicodedata.category(ch).startswith("P")
    start, end = 0, len(text)
    while start < end and edge(text[start]):
        start += 1
    while end > start and edge(text[end - 1]):
        end -= 1
    return text[start:end]


def normalise(text: str) -> str:
    """NFKC, case-folded, runs of whitespace as one space, punctuation stripped at the ends."""
    return _strip_punctuation(" ".join(unicodedata.normalize("NFKC", text).casefold().split()))


def _no_answer(outcome: Outcome) -> Verdict:
    return fail(f"no final answer (the episode stopped: {outcome.stop})")


class ExactAnswer:
    """The final answer equals one of `expected` once both are normalised (see normalise)."""

    kind = "exact"

    def __init__(self, expected: list[str]) -> None:
        self.expected = expected
        self._normal = {normalise(e) for e in expected}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], where: str) -> ExactAnswer:
        check_keys(spec, ("kind", "expected"), where)
        return cls(get_str_list(spec, "expected", where))

    def check(self, outcome: Outcome, task: Any) -> Verdict:
        if outcome.final is None:
            return _no_answer(outcome)
        if normalise(outcome.final) in self._normal:
            return ok()
        return fail(f"answer {show(outcome.final)} is not {' or '.join(map(repr, self.expected))}")




class RegexAnswer:
    """re.search of `pattern` (with `flags`: ignorecase, multiline, dotall, verbose) in the answer."""

    kind = "regex"

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], where: str) -> RegexAnswer:
        check_keys(spec, ("kind", "pattern", "flags"), where)
        return cls(compile_regex(spec, where))

    def check(self, outcome: Outcome, task: Any) -> Verdict:
        if outcome.final is None:
            return _no_answer(outcome)
        if self.pattern.search(outcome.final):
            return ok()
        return fail(f"answer {show(outcome.final)} does not match /{self.pattern.pattern}/")


_NUMBER = re.compile(r"(?<![\w.])([-+]?)((?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|\.\d+)"
                     r"(?:[eE]([-+]?\d+))?")


def numbers_in(text: str) -> list[float]:
    """Every number in `text`, in order: thousands commas, a sign, decimals, an exponent, and any
    unit after it ("1,234.5 km" -> 1234.5, "-3e2" -> -300.0, "about 42%" -> 42.0)."""
    text = unicodedata.normalize("NFKC", text).replace("\u2212", "-")
    return [float(f"{sign}{digits.replace(',', '')}" + (f"e{exponent}" if exponent else ""))
            for sign, digits, exponent in _NUMBER.findall(text)]


def extract_number(text: str) -> float | None:
    """The last number in `text` (see numbers_in), None if it holds none."""
    found = numbers_in(text)
    return found[-1] if found else None


class NumericAnswer:
    """The last number of the answer is within abs_tol or rel_tol of `expected` (math.isclose);
    without either, abs_tol 1e-9 and rel_tol 1e-6; with one, the other is 0."""

    kind = "numeric"

    def __init__(self, expected: float, abs_tol: float = 1e-9, rel_tol: float = 1e-6) -> None:
        self.expected, self.abs_tol, self.rel_tol = expected, abs_tol, rel_tol

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], where: str) -> NumericAnswer:
        check_keys(spec, ("kind", "expected", "abs_tol", "rel_tol"), where)
        given = "abs_tol" in spec or "rel_tol" in spec  # either given: the other is 0, not its default
        tols = {k: get(spec, k, float, where, 0.0 if given else default)
                for k, default in (("abs_tol", 1e-9), ("rel_tol", 1e-6))}
        for key, value in tols.items():
            if value < 0 or math.isnan(value):
                raise SpecError(f"{where}.{key}", value, "a tolerance must be >= 0")
        return cls(get(spec, "expected", float, where), **tols)

    def check(self, outcome: Outcome, task: Any) -> Verdict:
        if outcome.final is None:
            return _no_answer(outcome)
        got = extract_number(outcome.final)
        if got is None:
            return fail(f"answer {show(outcome.final)} holds no number (expected {self.expected:g})")
        if math.isclose(got, self.expected, rel_tol=self.rel_tol, abs_tol=self.abs_tol):
            return ok()
        return fail(f"answer's number {got:g} is not {self.expected:g} "
                    f"(abs_tol {self.abs_tol:g}, rel_tol {self.rel_tol:g})")


ANSWER_KINDS: dict[str, type[Verifier]] = {c.kind: c for c in (ExactAnswer, RegexAnswer, NumericAnswer)}


class NoCall:
    """Irrelevance: the model answered without calling any tool (and, with `answer`, rightly)."""

    kind = "no_call"

    def __init__(self, answer: Verifier | None = None) -> None:
        self.answer = answer

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], where: str) -> NoCall:
        check_keys(spec, ("kind", "answer"), where)
        if "answer" not in spec:
            return cls()
        inner = spec["answer"]
        kind = inner.get("kind") if isinstance(inner, Mapping) else None
        if kind not in ANSWER_KINDS:
            raise SpecError(f"{where}.answer.kind", kind, f"allowed: {', '.join(ANSWER_KINDS)}")
        return cls(ANSWER_KINDS[kind].from_spec(inner, f"{where}.answer"))

    def check(self, outcome: Outcome, task: Any) -> Verdict:
        if outcome.calls:
            names = ", ".join(c.recipient for c in outcome.calls)
            return fail(f"expected no tool call, got {len(outcome.calls)}: {names}")
        if outcome.final is None:
            return _no_answer(outcome)
        return self.answer.check(outcome, task) if self.answer is not None else ok()


# --- the tools' state -----------------------------------------------------------------------------

def subset_mismatch(expected: Any, actual: Any, path: str, unordered: bool) -> str | None:
    """Where `actual` fails to hold `expected` (mappings: the expected keys, recursively; lists:
    the same length, element by element or, unordered, some pairing), or None when it does."""
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return f"{path or 'state'} is {show(actual)}, expected a mapping"
        for key, value in expected.items():
            if key not in actual:
                return f"{path}.{key} is missing" if path else f"{key} is missing"
            found = subset_mismatch(value, actual[key], f"{path}.{key}" if path else str(key), unordered)
            if found:
                return found
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return f"{path} is {show(actual)}, expected a list of {len(expected)}"
        if not unordered:
            for i, (e, a) in enumerate(zip(expected, actual)):
                found = subset_mismatch(e, a, f"{path}[{i}]", unordered)
                if found:
                    return found
            return None
        return None if _pairing(expected, list(actual), path) else f"{path}: no match in any order"
    numbers = is_number(expected) and is_number(actual)  # 40 == 40.0, but True is no 1
    same = expected == actual if numbers else (type(expected) is type(actual) and expected == actual)
    return None if same else f"{path} is {show(actual)}, expected {show(expected)}"


def _pairing(expected: list[Any], actual: list[Any], path: str) -> bool:
    """True when each expected element matches a distinct actual one (backtracking; lists are short)."""
    if not expected:
        return True
    head, rest = expected[0], expected[1:]
    for i, candidate in enumerate(actual):
        if (subset_mismatch(head, candidate, path, True) is None
                and _pairing(rest, actual[:i] + actual[i + 1:], path)):
            return True
    return False


class ToolState:
    """outcome.tool_state[tool] holds `expect` (a JSON subset; lists in any order with unordered)."""

    kind = "tool_state"

    def __init__(self, tool: str, expect: Mapping[str, Any], unordered: bool = False) -> None:
        self.tool, self.expect, self.unordered = tool, expect, unordered

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], where: str) -> ToolState:
        check_keys(spec, ("kind", "tool", "expect", "unordered"), where)
        return cls(get(spec, "tool", str, where), get(spec, "expect", dict, where),
                   get(spec, "unordered", bool, where, False))

    def check(self, outcome: Outcome, task: Any) -> Verdict:
        state = outcome.tool_state.get(self.tool)
        if state is None:
            return fail(f"no state of {self.tool} after the episode")
        found = subset_mismatch(self.expect, state, "", self.unordered)
        return fail(f"{self.tool}: {found}") if found else ok()


KINDS: dict[str, type[Verifier]] = {
    **ANSWER_KINDS,
    **{c.kind: c for c in (NoCall, FileCheck, FileAbsent, CommandCheck, CallsVerifier, ToolState)},
}


def build(spec: Any, where: str) -> Verifier:
    """The verifier a task-file mapping describes (its `kind` picks the class)."""
    if not isinstance(spec, Mapping):
        raise SpecError(where, spec, f"expected a mapping with a kind: {', '.join(KINDS)}")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise SpecError(f"{where}.kind", kind, f"allowed: {', '.join(KINDS)}")
    return KINDS[kind].from_spec(spec, where)
