"""The agent's outcome contract: what an episode left behind, as verifiers and metrics see it.

The session builds an `Outcome` per trial; each tool call in it is a `Call`, and a call that failed
carries one of `ERROR_KINDS`. Tasks (verifiers) and metrics (call counts) read these; the agent
owns them, so neither needs more of the agent than this module.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ERROR_KINDS: dict[str, str] = {  # why a call failed; every kind but tool_error is the model's fault
    "unknown_tool": "the recipient names no tool of the session",
    "invalid_json": "the arguments are not a JSON object",
    "invalid_args": "the arguments do not match the tool's JSON schema",
    "tool_error": "the tool refused or failed (file missing, context not found, unknown pane, ...)",
    "timeout": "the tool ran past its time limit",
}


@dataclass(frozen=True)
class Call:
    """One tool call the model made, as addressed and as parsed."""

    recipient: str            # as written by the model: "functions.apply_patch", "ui_pane", "browser.search"
    name: str                 # the function it resolved to ("apply_patch", "search", "python"); recipient if none
    arguments: Any            # dict for JSON calls, str for freeform (python code, a patch), None if unparsable
    channel: str | None       # commentary | analysis | ...
    error: str | None = None  # None, or a key of ERROR_KINDS


@dataclass
class Outcome:
    """The end of one episode: the final answer, the calls, the workspace and the tools' state."""

    final: str | None                                      # the final-channel text, None if none came
    calls: list[Call] = field(default_factory=list)
    workspace: Path | None = None                          # the folder apply_patch/python worked in
    tool_state: dict[str, Any] = field(default_factory=dict)  # e.g. {"ui_pane": UiPane.state()}
    stop: str = "final"                                    # final | max_turns | length | error
    error: str | None = None                               # a harness/infrastructure error, not the model's
