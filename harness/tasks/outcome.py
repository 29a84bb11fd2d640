"""What an agent episode left behind, as verifiers see it (the session builds one per trial)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Call:
    """One tool call the model made, as addressed and as parsed."""

    recipient: str            # as written by the model: "functions.apply_patch", "ui_pane", "browser.search"
    name: str                 # the function it resolved to ("apply_patch", "search", "python"); recipient if none
    arguments: Any            # dict for JSON calls, str for freeform (python code, a patch), None if unparsable
    channel: str | None       # commentary | analysis | ...
    error: str | None = None  # None, or a key of harness.agent.tools.base.ERROR_KINDS


@dataclass
class Outcome:
    """The end of one episode: the final answer, the calls, the workspace and the tools' state."""

    final: str | None                                      # the final-channel text, None if none came
    calls: list[Call] = field(default_factory=list)
    workspace: Path | None = None                          # the folder apply_patch/python worked in
    tool_state: dict[str, Any] = field(default_factory=dict)  # e.g. {"ui_pane": UiPane.state()}
    stop: str = "final"                                    # final | max_turns | length | error
    error: str | None = None                               # a harness/infrastructure error, not the model's
