"""The ui_pane tool through `Toolset.call`: its schema, a session of actions, every refusal."""
from __future__ import annotations

import json

import pytest

from harness.agent.tools.base import Tool, ToolResult, Toolset
from harness.agent.tools.ui_pane import UiPane


@pytest.fixture
def panes() -> UiPane:
    return UiPane()


@pytest.fixture
def ts(panes: UiPane) -> Toolset:
    return Toolset([panes])


def act(ts: Toolset, action: str, **args: object) -> ToolResult:
    return ts.call("functions.ui_pane", json.dumps({"action": action, **args}))


def test_one_function_tool_with_a_derived_schema(ts: Toolset, panes: UiPane) -> None:
    (spec,) = ts.function_specs()
    assert isinstance(panes, Tool) and spec["name"] == "ui_pane" and not panes.builtin
    params = spec["parameters"]
    assert params["required"] == ["action"] and params["additionalProperties"] is False
    assert params["properties"]["action"]["enum"] == [
        "list", "create", "move", "resize", "focus", "set_priority", "set_state", "close",
        "request_attention"]
    assert params["properties"]["state"]["enum"] == ["normal", "minimized", "maximized", "hidden"]
    assert params["properties"]["priority"]["enum"] == ["low", "normal", "high", "urgent"]
    assert params["properties"]["width"] == {"type": "integer", "description": "Width in pixels, 1 or more."}
    assert set(params["properties"]) == {"action", "pane_id", "title", "x", "y", "width", "height",
                                         "priority", "state", "message"}
    assert "request_attention" in spec["description"]
    assert ts.resolve("ui_pane") is ts.resolve("functions.ui_pane") is not None


def test_state_after_a_sequence_of_actions(ts: Toolset, panes: UiPane) -> None:
    created = json.loads(act(ts, "create", title="Logs").text)
    assert created["pane"]["id"] == "pane-1" and created["pane"]["focused"] is True
    assert act(ts, "create", title="Editor", pane_id="editor", x=700, y=10, width=800, height=600,
               priority="high").ok
    assert act(ts, "create", title="Chat").ok  # pane-2
    steps = [("move", {"pane_id": "pane-1", "x": 20}),
             ("resize", {"pane_id": "pane-1", "height": 300}),
             ("set_priority", {"pane_id": "pane-1", "priority": "urgent"}),
             ("request_attention", {"pane_id": "pane-1", "message": "build failed"}),
             ("request_attention", {"pane_id": "editor"}),
             ("set_state", {"pane_id": "editor", "state": "minimized"}),
             ("focus", {"pane_id": "editor"}),  # restores the minimized pane
             ("set_state", {"pane_id": "pane-1", "state": "maximized"}),
             ("close", {"pane_id": "pane-2"})]
    for action, args in steps:
        res = act(ts, action, **args)
        assert res.ok, (action, res.text)
    assert panes.state() == {
        "panes": [
            {"id": "pane-1", "title": "Logs",
             "geometry": {"x": 20, "y": 0, "width": 640, "height": 300},
             "priority": "urgent", "state": "maximized", "focused": False,
             "attention": [{"seq": 1, "message": "build failed"}]},
            {"id": "editor", "title": "Editor",
             "geometry": {"x": 700, "y": 10, "width": 800, "height": 600},
             "priority": "high", "state": "normal", "focused": True,
             "attention": [{"seq": 2, "message": ""}]},
        ],
        "focused": "editor",
    }
    assert json.loads(act(ts, "list").text) == panes.state()
    assert act(ts, "create", title="Next").ok
    assert panes.state()["focused"] == "pane-3"  # ids are never reused


def test_losing_the_focus(ts: Toolset, panes: UiPane) -> None:
    act(ts, "create", title="A")
    act(ts, "set_state", pane_id="pane-1", state="hidden")
    assert panes.state()["focused"] is None
    act(ts, "focus", pane_id="pane-1")
    assert panes.state()["panes"][0]["state"] == "normal" and panes.state()["focused"] == "pane-1"
    closed = json.loads(act(ts, "close", pane_id="pane-1").text)
    assert closed == {"ok": True, "action": "close", "closed": "pane-1", "focused": None}
    assert panes.state() == {"panes": [], "focused": None}
    act(ts, "create", title="Quiet", state="minimized")
    assert panes.state()["focused"] is None


@pytest.mark.parametrize("action, args, message", [
    ("move", {"pane_id": "pane-9", "x": 1}, "Unknown pane id `pane-9`; open panes: pane-1"),
    ("close", {"pane_id": "nope"}, "Unknown pane id"),
    ("focus", {}, "`focus` needs `pane_id`"),
    ("resize", {"pane_id": "pane-1", "width": -5}, "invalid geometry: `width`"),
    ("resize", {"pane_id": "pane-1", "height": 0}, "invalid geometry: `height`"),
    ("resize", {"pane_id": "pane-1"}, "`resize` needs `width` and/or `height`"),
    ("move", {"pane_id": "pane-1", "y": -1}, "invalid geometry: `y`"),
    ("move", {"pane_id": "pane-1"}, "`move` needs `x` and/or `y`"),
    ("create", {"title": "B", "width": -640}, "invalid geometry: `width`"),
    ("create", {"title": "B", "x": 99999}, "invalid geometry: `x`"),
    ("create", {}, "`create` needs a `title`"),
    ("create", {"title": "  "}, "`create` needs a `title`"),
    ("create", {"title": "B", "pane_id": "pane-1"}, "pane id `pane-1` is taken"),
    ("create", {"title": "x" * 201}, "longer than 200"),
    ("set_priority", {"pane_id": "pane-1"}, "needs `priority`"),
    ("set_state", {"pane_id": "pane-1"}, "needs `state`"),
])
def test_refusals_are_tool_errors_and_change_nothing(ts: Toolset, panes: UiPane, action: str,
                                                     args: dict, message: str) -> None:
    act(ts, "create", title="A")
    before = panes.state()
    res = act(ts, action, **args)
    assert res.error == "tool_error" and message in res.text, res.text
    assert panes.state() == before


@pytest.mark.parametrize("content", [
    '{"action": "explode"}',
    '{"action": "move", "pane_id": "pane-1", "x": "10"}',
    '{"action": "set_state", "pane_id": "pane-1", "state": "floating"}',
    '{"action": "resize", "pane_id": "pane-1", "width": 10.5}',
    '{"action": "list", "colour": "red"}',
    '{"pane_id": "pane-1"}',
])
def test_schema_violations_are_invalid_args(ts: Toolset, content: str) -> None:
    assert ts.call("functions.ui_pane", content).error == "invalid_args"


def test_bad_json_is_invalid_json(ts: Toolset) -> None:
    assert ts.call("ui_pane", '{"action": "list"').error == "invalid_json"
    assert ts.call("ui_pane", '"list"').error == "invalid_json"


def test_each_session_has_its_own_panes() -> None:
    a, b = Toolset([UiPane()]), Toolset([UiPane()])
    act(a, "create", title="Only in a")
    assert json.loads(act(b, "list").text) == {"panes": [], "focused": None}
