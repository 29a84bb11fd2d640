"""The tool calls made, checked as BFCL's AST checker does (gorilla, bfcl/eval_checker/ast_eval).

An expected call names a function and its parameters, each with its accepted values:

    - kind: calls
      order: any          # any (default): each expected call matches a distinct call, in any order
                          # sequence: the expected calls appear in this order (others may come between)
      only: false         # true: no calls beyond the expected ones
      calls:
        - name: ui_pane            # matches to=functions.ui_pane, to=ui_pane; browser.search, search
          arguments:               # absent: only the name is checked
            action: [create]       # the accepted values (a single value is a list of one)
            width: [40]            # types from the values: an int accepts an int, a float an int or float
            title: [Logs, logs]    # strings compared normalised (case, spaces, , . / - _ * ^)
            focus: [true, ""]      # "" among the values: the parameter may be left out
            note: {type: string, optional: true}   # any value of a type

A made call matches when its name matches, every required parameter is there, no parameter is
unexpected, each value has the right type (bool is no int, an int passes for a number) and is
among the accepted values (lists and mappings compared element by element, strictly typed).
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.agent.outcome import Call, Outcome
from harness.harmony.recipients import short_name
from harness.tasks.spec import SpecError, check_keys, get, is_number, one_of, show
from harness.tasks.verdict import Verdict, fail, ok

JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "array": (list,), "object": (dict,),
}
OMITTED = ""  # BFCL's marker, among the accepted values, for a parameter that may be left out
_BFCL_STRIP = re.compile(r"[ ,./\-_*^]")


def standardise(text: str) -> str:
    """BFCL's string comparison form: NFKC, case-folded, without spaces and , . / - _ * ^."""
    return _BFCL_STRIP.sub("", unicodedata.normalize("NFKC", text).casefold()).replace("'", '"')


def json_type(value: Any) -> str:
    """The JSON type name of a value (bool before integer, an int is an integer)."""
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    for name in ("integer", "number", "string", "array", "object"):
        if isinstance(value, JSON_TYPES[name]):
            return name
    return type(value).__name__


def has_type(value: Any, type_name: str) -> bool:
    """BFCL's type check: strict, except that an integer passes for a number."""
    actual = json_type(value)
    return actual == type_name or (type_name == "number" and actual == "integer")


def same_value(value: Any, accepted: Any) -> bool:
    """`value` equals `accepted` with types kept apart (True is not 1) and strings standardised."""
    if isinstance(accepted, str):
        return isinstance(value, str) and standardise(value) == standardise(accepted)
    if isinstance(accepted, list):
        return (isinstance(value, list) and len(value) == len(accepted)
                and all(same_value(v, a) for v, a in zip(value, accepted)))
    if isinstance(accepted, dict):
        return (isinstance(value, dict) and value.keys() == accepted.keys()
                and all(same_value(value[k], a) for k, a in accepted.items()))
    if accepted is None or isinstance(accepted, bool):
        return value is accepted
    if isinstance(accepted, int):
        return json_type(value) == "integer" and value == accepted
    return is_number(value) and value == accepted


@dataclass(frozen=True)
class Param:
    """A parameter of an expected call: its accepted values (empty: any), its type, optional or not."""

    name: str
    accepted: tuple[Any, ...]
    type: str | None
    optional: bool

    def mismatch(self, value: Any) -> str | None:
        null_ok = value is None and None in self.accepted
        if self.type is not None and not null_ok and not has_type(value, self.type):
            return f"parameter {self.name!r}: expected {self.type}, got {json_type(value)} {show(value)}"
        if self.accepted and not any(same_value(value, a) for a in self.accepted):
            return f"parameter {self.name!r}: {show(value)} is not among {show(list(self.accepted))}"
        return None


def _infer_type(values: list[Any], key: str) -> str | None:
    """The type the accepted values share (integer and number make number); None if no values."""
    types = {json_type(v) for v in values if v is not None}
    if types == {"integer", "number"}:
        return "number"
    if len(types) > 1:
        raise SpecError(key, values, "the accepted values of a parameter must share one type")
    return types.pop() if types else None


def parse_param(name: str, spec: Any, where: str) -> Param:
    """A parameter from a list of accepted values, a single value, or {values, type, optional}."""
    key = f"{where}.{name}"
    if isinstance(spec, Mapping):
        check_keys(spec, ("values", "type", "optional"), key)
        values = get(spec, "values", list, key, [])
        type_name = spec.get("type")
        if type_name is not None:
            one_of(type_name, JSON_TYPES, f"{key}.type")
        optional = get(spec, "optional", bool, key, False)
    else:
        values, type_name, optional = (spec if isinstance(spec, list) else [spec]), None, False
    accepted = [v for v in values if v != OMITTED]
    optional = optional or len(accepted) < len(values)
    inferred = _infer_type(accepted, key)
    if type_name is not None and not all(has_type(v, type_name) for v in accepted if v is not None):
        raise SpecError(key, values, f"accepted values must all be of type {type_name}")
    if type_name is None and inferred is None and not optional:
        raise SpecError(key, spec, f"give accepted values or a type ({', '.join(JSON_TYPES)})")
    return Param(name, tuple(accepted), type_name or inferred, optional)


def names_match(expected: str, call: Call) -> bool:
    """`ui_pane` and `functions.ui_pane` name the same function; `search` names browser.search too."""
    want = short_name(expected)
    return want in (short_name(call.recipient), call.name)


@dataclass(frozen=True)
class ExpectedCall:
    """A call the model should make; params None: any arguments."""

    name: str
    params: Mapping[str, Param] | None

    def mismatch(self, call: Call) -> str | None:
        """Why `call` is not this expected call, or None when it is."""
        if not names_match(self.name, call):
            return f"{call.recipient} is not {self.name}"
        if self.params is None:
            return None
        args = call.arguments
        if not isinstance(args, dict):
            return f"{call.recipient}: arguments {show(args)} are not a JSON object"
        for param in self.params.values():
            if param.name not in args and not param.optional:
                return f"{call.recipient}: required parameter {param.name!r} is missing"
        for key, value in args.items():
            if key not in self.params:
                return f"{call.recipient}: unexpected parameter {key!r}"
            found = self.params[key].mismatch(value)
            if found:
                return f"{call.recipient}: {found}"
        return None

    @classmethod
    def from_spec(cls, spec: Any, where: str) -> ExpectedCall:
        check_keys(spec, ("name", "arguments"), where)
        name = get(spec, "name", str, where)
        if "arguments" not in spec:
            return cls(name, None)
        args = get(spec, "arguments", dict, where)
        return cls(name, {k: parse_param(str(k), v, f"{where}.arguments") for k, v in args.items()})


def _assign(expected: list[ExpectedCall], calls: list[Call]) -> bool:
    """True when each expected call matches a distinct call (backtracking; both lists are short)."""
    if not expected:
        return True
    head, rest = expected[0], expected[1:]
    return any(head.mismatch(c) is None and _assign(rest, calls[:i] + calls[i + 1:])
               for i, c in enumerate(calls))


def _in_sequence(expected: list[ExpectedCall], calls: list[Call]) -> bool:
    """True when the expected calls match a subsequence of the calls, in order (greedy is exact)."""
    it = iter(calls)
    return all(any(e.mismatch(c) is None for c in it) for e in expected)


class CallsVerifier:
    """The calls made include the expected ones (BFCL's AST checks), in any order or in sequence."""

    kind = "calls"

    def __init__(self, expected: list[ExpectedCall], order: str = "any", only: bool = False) -> None:
        self.expected, self.order, self.only = expected, order, only

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], where: str) -> CallsVerifier:
        check_keys(spec, ("kind", "calls", "order", "only"), where)
        items = get(spec, "calls", list, where)
        if not items:
            raise SpecError(f"{where}.calls", items, "expected at least one call (no_call checks for none)")
        order = one_of(get(spec, "order", str, where, "any"), ("any", "sequence"), f"{where}.order")
        expected = [ExpectedCall.from_spec(item, f"{where}.calls[{i}]") for i, item in enumerate(items)]
        return cls(expected, order, get(spec, "only", bool, where, False))

    def check(self, outcome: Outcome, task: Any) -> Verdict:
        calls = list(outcome.calls)
        if self.only and len(calls) != len(self.expected):
            return fail(f"expected exactly {len(self.expected)} call(s), got {len(calls)}: {_names(calls)}")
        for exp in self.expected:
            if all(exp.mismatch(c) is not None for c in calls):
                return fail(self._closest(exp, calls))
        matched = _assign(self.expected, calls) if self.order == "any" else _in_sequence(self.expected, calls)
        if matched:
            return ok()
        return fail(f"the calls {_names(calls)} do not cover {', '.join(e.name for e in self.expected)} "
                    + ("each with its own call" if self.order == "any" else "in this order"))

    @staticmethod
    def _closest(exp: ExpectedCall, calls: list[Call]) -> str:
        """Why no call matched `exp`: each same-named call's mismatch (up to 3), or none was made."""
        reasons = [exp.mismatch(c) or "" for c in calls if names_match(exp.name, c)]
        if not reasons:
            return f"no call to {exp.name} (calls made: {_names(calls)})"
        more = f"; and {len(reasons) - 3} more" if len(reasons) > 3 else ""
        return "; ".join(reasons[:3]) + more


def _names(calls: list[Call]) -> str:
    return ", ".join(c.recipient for c in calls) or "none"
