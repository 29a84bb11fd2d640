"""What every agent tool is: callable functions with JSON schemas derived from their signatures.

A tool (browser, python, apply_patch, ui_pane) offers one or more `Function`s, each reachable at a
Harmony recipient: `browser.search`, `python`, `functions.apply_patch`, ... A function's JSON
schema comes from its Python signature and docstring (as inspect_ai derives them): the type hints
give the types (Literal -> enum), defaults make a parameter optional, and the docstring's
`Args:` section gives each parameter's description.

`invoke(function, content)` turns the model's message into a call: JSON arguments are parsed and
checked against the schema (freeform functions take the content as it is: python code, a V4A
patch), and whatever goes wrong becomes a `ToolResult` with an error kind that goes back to the
model; nothing a model writes can raise out of here.
"""
from __future__ import annotations

import inspect
import json
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import jsonschema


class ToolError(Exception):
    """Raised by a tool for an error the model should see (and may fix in its next call)."""

    def __init__(self, message: str, kind: str = "tool_error") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class ToolResult:
    """What a call gives back to the model; `error` is None on success, else a key of
    harness.agent.outcome.ERROR_KINDS."""

    text: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Function:
    """One callable a model can address: its recipient, description and JSON schema."""

    recipient: str  # "browser.search", "python", "functions.apply_patch"
    fn: Callable[..., str]
    description: str
    parameters: dict[str, Any]
    freeform: bool = False  # the message content is the single argument, as is (no JSON)

    @property
    def name(self) -> str:
        """The name in a tool list: the part after the namespace."""
        return self.recipient.rsplit(".", 1)[-1]

    def spec(self) -> dict[str, Any]:
        """{name, description, parameters}: a function tool for the developer message."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}


@runtime_checkable
class Tool(Protocol):
    """A tool of a session. Built-in tools (browser, python) are described in the system message,
    function tools (apply_patch, ui_pane) in the developer message's `functions` namespace."""

    name: str
    builtin: bool  # True: described in the system message (a namespace); False: a `functions.` tool
    description: str  # a built-in tool's namespace description for the system message

    def functions(self) -> list[Function]:
        """The functions this tool offers, with their recipients."""

    def state(self) -> dict[str, Any] | None:
        """State worth keeping in a transcript (ui_pane's panes), or None."""


# --- schemas from signatures ---------------------------------------------------------------------

_JSON_TYPES: dict[Any, dict[str, Any]] = {
    str: {"type": "string"}, int: {"type": "integer"}, float: {"type": "number"},
    bool: {"type": "boolean"}, dict: {"type": "object"}, list: {"type": "array"},
}


def json_type(hint: Any) -> dict[str, Any]:
    """The JSON schema of a type hint: str/int/float/bool, list[X], dict, Literal[...], X | None."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return {"type": _JSON_TYPES[type(args[0])]["type"], "enum": list(args)}
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return json_type(inner[0])
        return {"anyOf": [json_type(a) for a in inner]}
    if origin is list:
        return {"type": "array", "items": json_type(args[0])} if args else {"type": "array"}
    if origin is dict:
        return {"type": "object"}
    if hint in _JSON_TYPES:
        return dict(_JSON_TYPES[hint])
    raise TypeError(f"no JSON schema for type hint {hint!r}")


def _docstring(fn: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    """The summary (text before `Args:`) and each parameter's description from a Google docstring."""
    doc = inspect.getdoc(fn) or ""
    summary, _, rest = doc.partition("\nArgs:\n")
    params: dict[str, str] = {}
    current = None
    for line in rest.splitlines():
        m = re.match(r"\s{2,}(\w+)(?:\s*\([^)]*\))?:\s*(.*)", line)
        if m and (current is None or len(line) - len(line.lstrip()) <= 4):
            current = m.group(1)
            params[current] = m.group(2).strip()
        elif current and line.strip() and line.startswith(" "):
            params[current] += " " + line.strip()
        elif line.strip() and not line.startswith(" "):
            break  # Returns:, Raises:, ...
    return " ".join(summary.split()), params


def function(fn: Callable[..., str], recipient: str, *, freeform: bool = False,
             description: str | None = None) -> Function:
    """A Function for `fn` at `recipient`, its schema derived from the signature and docstring."""
    summary, docs = _docstring(fn)
    sig = inspect.signature(fn)
    hints = typing.get_type_hints(fn)
    props: dict[str, Any] = {}
    required: list[str] = []
    for name, p in sig.parameters.items():
        if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        prop = json_type(hints.get(name, str))
        if name in docs:
            prop["description"] = docs[name]
        if p.default is inspect.Parameter.empty:
            required.append(name)
        elif p.default is not None:
            prop["default"] = p.default
        props[name] = prop
    if freeform:
        if len(props) != 1:
            raise TypeError(f"freeform function {fn.__name__} must take exactly one argument")
        parameters = next(iter(props.values()))
    else:
        parameters = {"type": "object", "properties": props, "required": required,
                      "additionalProperties": False}
    return Function(recipient, fn, description or summary, parameters, freeform)


# --- calling --------------------------------------------------------------------------------------

def _arguments(func: Function, content: str) -> dict[str, Any]:
    """The keyword arguments of a call from the message content; ToolError on bad JSON or schema."""
    if func.freeform:
        text = content
        try:  # some models wrap freeform input as {"<param>": "..."} or a JSON string: accept both
            loaded = json.loads(content)
            if isinstance(loaded, str):
                text = loaded
            elif isinstance(loaded, dict) and len(loaded) == 1 and isinstance(next(iter(loaded.values())), str):
                text = next(iter(loaded.values()))
        except ValueError:
            pass
        (param,) = [n for n in inspect.signature(func.fn).parameters if n != "self"]
        return {param: text}
    try:
        args = json.loads(content) if content.strip() else {}
    except ValueError as exc:
        raise ToolError(f"arguments of {func.recipient} are not valid JSON: {exc}", "invalid_json") from None
    if not isinstance(args, dict):
        raise ToolError(f"arguments of {func.recipient} must be a JSON object, got {type(args).__name__}",
                        "invalid_json")
    required = set(func.parameters.get("required", ()))
    args = {k: v for k, v in args.items() if v is not None or k in required}  # null: "not given"
    try:
        jsonschema.validate(args, func.parameters)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "arguments"
        raise ToolError(f"{func.recipient}: {where}: {exc.message}", "invalid_args") from None
    return args


def invoke(func: Function, content: str) -> ToolResult:
    """Call `func` with the model's message content; every failure becomes an error result."""
    try:
        return ToolResult(str(func.fn(**_arguments(func, content))))
    except ToolError as exc:
        return ToolResult(f"Error: {exc}", exc.kind)
    except Exception as exc:  # a bug or an OS error in a tool: reported to the model, counted apart
        return ToolResult(f"Error: {func.recipient} failed: {type(exc).__name__}: {exc}", "tool_error")


@dataclass
class Toolset:
    """The tools of one session, addressed by Harmony recipient (with or without `functions.`)."""

    tools: list[Tool] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_recipient: dict[str, Function] = {}
        for tool in self.tools:
            for func in tool.functions():
                self._by_recipient[func.recipient] = func

    def resolve(self, recipient: str) -> Function | None:
        """The function a recipient names: exact, or a bare name of a function tool."""
        recipient = recipient.strip()
        if recipient in self._by_recipient:
            return self._by_recipient[recipient]
        return self._by_recipient.get("functions." + recipient)

    def call(self, recipient: str, content: str) -> ToolResult:
        """Run the call a model addressed to `recipient`; unknown recipients are an error result."""
        func = self.resolve(recipient)
        if func is None:
            known = ", ".join(sorted(self._by_recipient)) or "none"
            return ToolResult(f"Error: unknown tool {recipient!r}; available: {known}", "unknown_tool")
        return invoke(func, content)

    def function_specs(self) -> list[dict[str, Any]]:
        """Function tools for the developer message (the built-in tools go in the system message)."""
        return [f.spec() for t in self.tools if not t.builtin for f in t.functions()]

    def builtin(self, name: str) -> Tool | None:
        return next((t for t in self.tools if t.builtin and t.name == name), None)
