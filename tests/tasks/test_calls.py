"""The BFCL-style call checker: names, required and unexpected parameters, types, values, order."""
from __future__ import annotations

import pytest

from harness.agent.outcome import Call, Outcome
from harness.tasks.calls import same_value, standardise
from harness.tasks.spec import SpecError
from harness.tasks.verifiers import build

CREATE = {"name": "ui_pane", "arguments": {
    "action": ["create"], "title": ["Logs"], "width": [40], "ratio": [0.5],
    "focus": [True, ""], "tags": [["a", "b"], ""], "note": {"type": "string", "optional": True}}}


def call(args, recipient="functions.ui_pane", name="ui_pane", error=None) -> Call:
    return Call(recipient, name, args, "commentary", error)


def check(spec: dict, *calls: Call):
    return build({"kind": "calls", **spec}, "v").check(Outcome(final="done", calls=list(calls)), None)


GOOD = {"action": "create", "title": "logs", "width": 40, "ratio": 0.5}


def test_a_matching_call_passes_with_or_without_the_prefix():
    assert check({"calls": [CREATE]}, call(GOOD)).passed
    assert check({"calls": [CREATE]}, call(GOOD, recipient="ui_pane")).passed
    assert check({"calls": [{**CREATE, "name": "functions.ui_pane"}]}, call(GOOD, recipient="ui_pane")).passed


@pytest.mark.parametrize("args, reason", [
    ({"action": "create", "title": "Logs", "ratio": 0.5}, "required parameter 'width' is missing"),
    ({**GOOD, "colour": "red"}, "unexpected parameter 'colour'"),
    ({**GOOD, "width": 40.0}, "parameter 'width': expected integer, got number 40.0"),
    ({**GOOD, "width": "40"}, "parameter 'width': expected integer, got string '40'"),
    ({**GOOD, "width": 41}, "parameter 'width': 41 is not among [40]"),
    ({**GOOD, "focus": 1}, "parameter 'focus': expected boolean, got integer 1"),
    ({**GOOD, "focus": False}, "parameter 'focus': False is not among [True]"),
    ({**GOOD, "title": "Errors"}, "parameter 'title': 'Errors' is not among ['Logs']"),
    ({**GOOD, "tags": ["b", "a"]}, "parameter 'tags'"),
    ({**GOOD, "note": 3}, "parameter 'note': expected string, got integer 3"),
    ("create Logs", "are not a JSON object"),
    (None, "are not a JSON object"),
])
def test_mismatches_name_the_parameter(args, reason):
    v = check({"calls": [CREATE]}, call(args))
    assert not v.passed and reason in v.reason


def test_bfcl_type_rules():
    spec = {"calls": [CREATE]}
    assert check({"calls": [{"name": "ui_pane", "arguments": {"x": [2.0]}}]}, call({"x": 2})).passed  # int for float
    assert check(spec, call({**GOOD, "focus": True, "tags": ["A", "b"], "note": "anything"})).passed
    assert check(spec, call({**GOOD, "title": " LOGS "})).passed                    # strings standardised
    assert standardise("New-York City.") == standardise("new york city")
    assert not same_value(1, True) and not same_value(True, 1) and same_value(2, 2.0)
    assert same_value({"a": [1, "X y"]}, {"a": [1, "x_y"]}) and not same_value({"a": 1}, {"a": 1, "b": 2})


def test_name_only_and_unknown_names():
    assert check({"calls": [{"name": "browser.search"}]},
                 Call("browser.search", "search", {"query": "anything"}, "analysis")).passed
    assert check({"calls": [{"name": "search"}]}, Call("browser.search", "search", {}, "analysis")).passed
    v = check({"calls": [{"name": "browser.open"}]}, Call("browser.search", "search", {}, "analysis"))
    assert not v.passed and "no call to browser.open (calls made: browser.search)" in v.reason


def test_several_calls_any_order_each_its_own_call():
    a = {"name": "ui_pane", "arguments": {"title": ["A"]}}
    b = {"name": "ui_pane", "arguments": {"title": ["B"]}}
    ca, cb = call({"title": "A"}), call({"title": "B"})
    assert check({"calls": [a, b]}, cb, ca).passed
    v = check({"calls": [a, a]}, ca, cb)
    assert not v.passed and "each with its own call" in v.reason     # one call cannot match twice
    assert check({"calls": [a, a]}, ca, cb, ca).passed


def test_sequence_and_only():
    a = {"name": "ui_pane", "arguments": {"title": ["A"]}}
    b = {"name": "ui_pane", "arguments": {"title": ["B"]}}
    ca, cb = call({"title": "A"}), call({"title": "B"})
    other = Call("python", "python", "print(1)", "analysis")
    assert check({"calls": [a, b], "order": "sequence"}, ca, other, cb).passed
    v = check({"calls": [a, b], "order": "sequence"}, cb, ca)
    assert not v.passed and "in this order" in v.reason
    v = check({"calls": [a, b], "only": True}, ca, other, cb)
    assert not v.passed and "expected exactly 2 call(s), got 3" in v.reason
    assert check({"calls": [a, b], "only": True}, cb, ca).passed


def test_bad_specs_are_one_line():
    with pytest.raises(SpecError, match=r"v.calls = \[\]: expected at least one call"):
        build({"kind": "calls", "calls": []}, "v")
    with pytest.raises(SpecError, match=r"v.order = 'random': allowed: any, sequence"):
        build({"kind": "calls", "calls": [{"name": "x"}], "order": "random"}, "v")
    with pytest.raises(SpecError, match=r"v.calls\[0\].arguments.w = \[1, 'a'\]: .*share one type"):
        build({"kind": "calls", "calls": [{"name": "x", "arguments": {"w": [1, "a"]}}]}, "v")
    with pytest.raises(SpecError, match=r"v.calls\[0\].arguments.w.type = 'float': allowed: string, integer"):
        build({"kind": "calls", "calls": [{"name": "x", "arguments": {"w": {"type": "float"}}}]}, "v")
    with pytest.raises(SpecError, match=r"v.calls\[0\].args = .*unknown key; allowed: name, arguments"):
        build({"kind": "calls", "calls": [{"name": "x", "args": {}}]}, "v")
