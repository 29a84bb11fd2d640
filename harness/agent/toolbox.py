"""The session's tools by name: browser, python, apply_patch, ui_pane (each a fresh instance)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.agent.tools.base import Tool, Toolset

TOOL_NAMES: tuple[str, ...] = ("browser", "python", "apply_patch", "ui_pane")


def make_tool(name: str, workspace: Path, *, corpus: Path | None = None, python_timeout_s: float = 30.0,
              unsafe_python: bool = False) -> Tool:
    """A new instance of the tool `name`; the workspace bounds apply_patch (python never sees it).
    python raises UncontainedError where it cannot hide the user's files, unless `unsafe_python`."""
    if name == "browser":
        from harness.agent.tools.browser import Browser
        return Browser(corpus) if corpus is not None else Browser()
    if name == "python":
        from harness.agent.tools.python_tool import PythonTool
        return PythonTool(timeout_s=python_timeout_s, unsafe=unsafe_python)
    if name == "apply_patch":
        from harness.agent.tools.apply_patch import ApplyPatch
        return ApplyPatch(workspace)
    if name == "ui_pane":
        from harness.agent.tools.ui_pane import UiPane
        return UiPane()
    raise ValueError(f"unknown tool {name!r}; choose from: {', '.join(TOOL_NAMES)}")


def make_toolset(names: Sequence[str], workspace: Path, *, corpus: Path | None = None,
                 python_timeout_s: float = 30.0, unsafe_python: bool = False) -> Toolset:
    """A Toolset of the named tools, in the order given, each named once."""
    unknown = [n for n in names if n not in TOOL_NAMES]
    if unknown:
        raise ValueError(f"unknown tool {unknown[0]!r}; choose from: {', '.join(TOOL_NAMES)}")
    return Toolset([make_tool(n, workspace, corpus=corpus, python_timeout_s=python_timeout_s,
                              unsafe_python=unsafe_python)
                    for n in dict.fromkeys(names)])
