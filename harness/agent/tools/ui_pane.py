"""The ui_pane tool: a pane manager the model drives, one function tool `functions.ui_pane`.

Panes live in one instance per session. `state()` is what the transcript keeps and what task
verifiers compare:

    {"panes": [{"id": "pane-1", "title": "Logs",
                "geometry": {"x": 0, "y": 0, "width": 640, "height": 480},
                "priority": "normal", "state": "normal", "focused": true,
                "attention": [{"seq": 1, "message": "build failed"}]}, ...],
     "focused": "pane-1"}

Panes are listed in creation order; `focused` is the focused pane's id or None. Rules: a created
pane takes the focus; focusing a minimized or hidden pane restores it to "normal"; minimizing,
hiding or closing the focused pane leaves no pane focused; attention requests accumulate, numbered
in the order they were made across all panes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.agent.tools.base import Function, ToolError, function

Action = Literal["list", "create", "move", "resize", "focus", "set_priority", "set_state", "close",
                 "request_attention"]
PaneState = Literal["normal", "minimized", "maximized", "hidden"]
Priority = Literal["low", "normal", "high", "urgent"]

DEFAULT_GEOMETRY = (0, 0, 640, 480)
MAX_COORD = 16384
MAX_PANES = 64
MAX_TEXT = 200


@dataclass
class Pane:
    id: str
    title: str
    x: int
    y: int
    width: int
    height: int
    priority: Priority = "normal"
    state: PaneState = "normal"
    attention: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self, focused: bool) -> dict[str, Any]:
        return {"id": self.id, "title": self.title,
                "geometry": {"x": self.x, "y": self.y, "width": self.width, "height": self.height},
                "priority": self.priority, "state": self.state, "focused": focused,
                "attention": [dict(a) for a in self.attention]}


def _check_position(x: int | None, y: int | None) -> None:
    for name, v in (("x", x), ("y", y)):
        if v is not None and not 0 <= v <= MAX_COORD:
            raise ToolError(f"invalid geometry: `{name}` must be between 0 and {MAX_COORD}, got {v}")


def _check_size(width: int | None, height: int | None) -> None:
    for name, v in (("width", width), ("height", height)):
        if v is not None and not 0 < v <= MAX_COORD:
            raise ToolError(f"invalid geometry: `{name}` must be between 1 and {MAX_COORD}, got {v}")


def _text(name: str, value: str) -> str:
    if len(value) > MAX_TEXT:
        raise ToolError(f"`{name}` is longer than {MAX_TEXT} characters")
    return value


class UiPane:
    """The panes of one session and the `ui_pane` function that manages them."""

    name = "ui_pane"
    builtin = False
    description = "Manage the panes of the user's screen: create, arrange, focus and close them."

    def __init__(self) -> None:
        self.panes: dict[str, Pane] = {}
        self.focused: str | None = None
        self._created = 0
        self._attention_seq = 0

    def functions(self) -> list[Function]:
        return [function(self.ui_pane, "functions.ui_pane")]

    def state(self) -> dict[str, Any]:
        """Every open pane (creation order) and the focused pane's id."""
        return {"panes": [p.as_dict(p.id == self.focused) for p in self.panes.values()],
                "focused": self.focused}

    def ui_pane(self, action: Action, pane_id: str | None = None, title: str | None = None,
                x: int | None = None, y: int | None = None, width: int | None = None,
                height: int | None = None, priority: Priority | None = None,
                state: PaneState | None = None, message: str | None = None) -> str:
        """Manage the panes on the user's screen. Actions: `list` shows every pane; `create` opens
        a pane (needs `title`; optional `pane_id`, `x`, `y`, `width`, `height`, `priority`,
        `state`) and focuses it; `move` sets `x` and/or `y`; `resize` sets `width` and/or
        `height`; `focus` focuses a pane (restoring it if minimized or hidden); `set_priority`
        needs `priority`; `set_state` needs `state`; `close` closes a pane; `request_attention`
        flags a pane for the user with an optional `message`. Every action but `list` and `create`
        needs `pane_id`. Returns the pane (or the list of panes) as JSON.

        Args:
            action: What to do.
            pane_id: The pane to act on (as returned by `create` or `list`); for `create`, an
                optional id for the new pane.
            title: The pane's title (for `create`).
            x: Left edge in pixels, 0 or more.
            y: Top edge in pixels, 0 or more.
            width: Width in pixels, 1 or more.
            height: Height in pixels, 1 or more.
            priority: The pane's priority.
            state: The pane's window state.
            message: What the user should look at (for `request_attention`).
        """
        if action == "list":
            return json.dumps(self.state())
        if action == "create":
            pane = self._create(pane_id, title, x, y, width, height, priority, state)
            return self._reply(action, pane)
        pane = self._pane(action, pane_id)
        match action:
            case "move":
                if x is None and y is None:
                    raise ToolError("`move` needs `x` and/or `y`")
                _check_position(x, y)
                pane.x, pane.y = pane.x if x is None else x, pane.y if y is None else y
            case "resize":
                if width is None and height is None:
                    raise ToolError("`resize` needs `width` and/or `height`")
                _check_size(width, height)
                pane.width = pane.width if width is None else width
                pane.height = pane.height if height is None else height
            case "focus":
                if pane.state in ("minimized", "hidden"):
                    pane.state = "normal"
                self.focused = pane.id
            case "set_priority":
                if priority is None:
                    raise ToolError("`set_priority` needs `priority`")
                pane.priority = priority
            case "set_state":
                if state is None:
                    raise ToolError("`set_state` needs `state`")
                pane.state = state
                if state in ("minimized", "hidden") and self.focused == pane.id:
                    self.focused = None
            case "close":
                del self.panes[pane.id]
                if self.focused == pane.id:
                    self.focused = None
                return json.dumps({"ok": True, "action": action, "closed": pane.id,
                                   "focused": self.focused})
            case "request_attention":
                self._attention_seq += 1
                pane.attention.append({"seq": self._attention_seq,
                                       "message": _text("message", message or "")})
        return self._reply(action, pane)

    def _reply(self, action: str, pane: Pane) -> str:
        return json.dumps({"ok": True, "action": action, "pane": pane.as_dict(pane.id == self.focused)})

    def _pane(self, action: str, pane_id: str | None) -> Pane:
        if pane_id is None:
            raise ToolError(f"`{action}` needs `pane_id`")
        if pane_id not in self.panes:
            known = ", ".join(self.panes) or "none"
            raise ToolError(f"Unknown pane id `{pane_id}`; open panes: {known}")
        return self.panes[pane_id]

    def _create(self, pane_id: str | None, title: str | None, x: int | None, y: int | None,
                width: int | None, height: int | None, priority: Priority | None,
                state: PaneState | None) -> Pane:
        if not title or not title.strip():
            raise ToolError("`create` needs a `title`")
        if len(self.panes) >= MAX_PANES:
            raise ToolError(f"too many panes: at most {MAX_PANES} can be open")
        if pane_id is not None and (not pane_id.strip() or pane_id in self.panes):
            raise ToolError(f"pane id `{pane_id}` is " + ("empty" if not pane_id.strip() else "taken"))
        _check_position(x, y)
        _check_size(width, height)
        if pane_id is None:
            self._created += 1
            while f"pane-{self._created}" in self.panes:
                self._created += 1
            pane_id = f"pane-{self._created}"
        dx, dy, dw, dh = DEFAULT_GEOMETRY
        pane = Pane(_text("pane_id", pane_id), _text("title", title.strip()),
                    dx if x is None else x, dy if y is None else y,
                    dw if width is None else width, dh if height is None else height,
                    priority or "normal", state or "normal")
        self.panes[pane.id] = pane
        if pane.state not in ("minimized", "hidden"):
            self.focused = pane.id
        return pane
