"""The Responses API's wire shapes, typed: output items, the response object, streaming events.

Parsers are lenient where servers differ (a missing id, status or usage detail gets a default) and
raise ResponsesError (one line) where a shape is unusable. `Assembler` builds the final Response
from a stream's events. Field names follow OpenAI's API reference and openai-python's types.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.errors import one_line

TERMINAL = ("response.completed", "response.incomplete", "response.failed")


class ResponsesError(RuntimeError):
    """A request failed (one line). .status_code: the HTTP status, None when there was no answer;
    .server_message: what the server said, if anything."""

    def __init__(self, message: str, status_code: int | None = None, server_message: str = "") -> None:
        super().__init__(one_line(message, 600))
        self.status_code = status_code
        self.server_message = server_message


# ---- what the server sends back ------------------------------------------------------------------

@dataclass(frozen=True)
class Message:
    id: str | None
    role: str
    content: list[dict[str, Any]]
    raw: dict[str, Any] = field(repr=False)
    type: Literal["message"] = "message"

    @property
    def text(self) -> str:
        return "".join(p.get("text") or "" for p in self.content if p.get("type") == "output_text")


@dataclass(frozen=True)
class FunctionCall:
    id: str | None
    call_id: str
    name: str
    arguments: str  # JSON text, as the model wrote it
    raw: dict[str, Any] = field(repr=False)
    type: Literal["function_call"] = "function_call"


@dataclass(frozen=True)
class Reasoning:
    id: str | None
    text: str  # the reasoning text, else the summary's
    raw: dict[str, Any] = field(repr=False)
    type: Literal["reasoning"] = "reasoning"


@dataclass(frozen=True)
class OtherItem:
    type: str
    id: str | None
    raw: dict[str, Any] = field(repr=False)


Item = Message | FunctionCall | Reasoning | OtherItem


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int
    total_tokens: int
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None


@dataclass(frozen=True)
class Response:
    id: str
    status: str  # completed, incomplete, failed, in_progress, ...
    model: str | None
    output: list[Item]
    usage: Usage | None
    error: dict[str, Any] | None
    raw: dict[str, Any] = field(repr=False)


def _texts(parts: Any) -> str:
    return "".join(p.get("text") or "" for p in parts if isinstance(p, dict)) if isinstance(parts, list) else ""


def parse_item(obj: Any) -> Item:
    """One output item of the JSON; ResponsesError if it is malformed."""
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        raise ResponsesError(f"malformed output item (no type): {json.dumps(obj)[:200]}")
    kind, item_id = obj["type"], obj.get("id")
    if kind == "message":
        content = obj.get("content") or []
        return Message(item_id, obj.get("role") or "assistant", content if isinstance(content, list) else [], obj)
    if kind == "function_call":
        name, call_id, args = obj.get("name"), obj.get("call_id"), obj.get("arguments")
        if not (isinstance(name, str) and isinstance(call_id, str) and isinstance(args, str)):
            raise ResponsesError(f"malformed function_call item (name, call_id, arguments): {json.dumps(obj)[:200]}")
        return FunctionCall(item_id, call_id, name, args, obj)
    if kind == "reasoning":
        return Reasoning(item_id, _texts(obj.get("content")) or _texts(obj.get("summary")), obj)
    return OtherItem(kind, item_id, obj)


def _usage(obj: Any) -> Usage | None:
    if not isinstance(obj, dict):
        return None
    n_in, n_out = int(obj.get("input_tokens") or 0), int(obj.get("output_tokens") or 0)
    out_details, in_details = obj.get("output_tokens_details") or {}, obj.get("input_tokens_details") or {}
    return Usage(n_in, n_out, int(obj.get("total_tokens") or n_in + n_out),
                 out_details.get("reasoning_tokens"), in_details.get("cached_tokens"))


def parse_response(obj: Any) -> Response:
    """The Response of a JSON response object; ResponsesError if it is malformed."""
    if not isinstance(obj, dict) or not isinstance(obj.get("output", []), list):
        raise ResponsesError(f"malformed response object: {json.dumps(obj)[:200]}")
    error = obj.get("error") if isinstance(obj.get("error"), dict) else None
    return Response(str(obj.get("id") or ""), str(obj.get("status") or "completed"), obj.get("model"),
                    [parse_item(it) for it in obj.get("output") or []], _usage(obj.get("usage")), error, obj)


# ---- streaming events ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Event:
    """A streaming event; the kinds below add typed fields, any other kind stays an Event."""
    type: str
    sequence_number: int | None
    raw: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class ResponseEvent(Event):  # response.created / .in_progress / .completed / .incomplete / .failed
    response: Response


@dataclass(frozen=True)
class OutputItemEvent(Event):  # response.output_item.added / .done
    output_index: int | None  # None where the server leaves it out (llama-server)
    item: Item


@dataclass(frozen=True)
class ItemEvent(Event):  # an event about one output item
    item_id: str | None
    output_index: int | None


@dataclass(frozen=True)
class TextDeltaEvent(ItemEvent):  # response.output_text.delta
    content_index: int
    delta: str


@dataclass(frozen=True)
class ArgumentsDeltaEvent(ItemEvent):  # response.function_call_arguments.delta
    delta: str


@dataclass(frozen=True)
class ArgumentsDoneEvent(ItemEvent):  # response.function_call_arguments.done
    arguments: str


@dataclass(frozen=True)
class ErrorEvent(Event):  # error
    code: str | None
    message: str


def parse_event(name: str, data: str) -> Event:
    """One SSE event (its `event:` name and `data:` text) as a typed Event."""
    try:
        obj = json.loads(data)
    except json.JSONDecodeError as e:
        raise ResponsesError(f"streamed event is not JSON ({e.msg} at {e.pos}): {data[:120]!r}") from e
    if not isinstance(obj, dict):
        raise ResponsesError(f"streamed event is not an object: {data[:120]!r}")
    kind, seq = str(obj.get("type") or name or ""), obj.get("sequence_number")
    head = (kind, seq if isinstance(seq, int) else None, obj)
    index = obj.get("output_index") if isinstance(obj.get("output_index"), int) else None
    at = (*head, obj.get("item_id"), index)
    if kind.startswith("response.") and isinstance(obj.get("response"), dict):
        return ResponseEvent(*head, parse_response(obj["response"]))
    if kind in ("response.output_item.added", "response.output_item.done"):
        return OutputItemEvent(*head, index, parse_item(obj.get("item")))
    if kind == "response.output_text.delta":
        return TextDeltaEvent(*at, int(obj.get("content_index") or 0), str(obj.get("delta") or ""))
    if kind == "response.function_call_arguments.delta":
        return ArgumentsDeltaEvent(*at, str(obj.get("delta") or ""))
    if kind == "response.function_call_arguments.done":
        return ArgumentsDoneEvent(*at, str(obj.get("arguments") or ""))
    if kind == "error" or ("type" not in obj and "error" in obj):  # llama-server: data: {"error": {...}}
        err = obj["error"] if isinstance(obj.get("error"), dict) else obj
        return ErrorEvent("error", *head[1:], err.get("code"), str(err.get("message") or err))
    return Event(*head)


class Assembler:
    """The final Response of a stream: the terminal event's, its output filled in from the streamed
    items when it carries none (as some servers send it). Events are read, never changed."""

    def __init__(self) -> None:
        self.last: dict[str, Any] | None = None
        self.items: list[dict[str, Any]] = []  # in output order
        self.slots: dict[Any, int] = {}        # output_index, else item id -> place in items

    def _slot(self, index: int | None, item_id: str | None, new: dict[str, Any]) -> int:
        key = index if index is not None else item_id
        if key not in self.slots:
            self.slots[key] = len(self.items)
            self.items.append(new)
        return self.slots[key]

    def feed(self, ev: Event) -> None:
        if isinstance(ev, ResponseEvent):
            self.last = ev.response.raw if ev.type in TERMINAL else self.last
        elif isinstance(ev, OutputItemEvent):
            self.items[self._slot(ev.output_index, ev.item.id, {})] = dict(ev.item.raw)
        elif isinstance(ev, TextDeltaEvent):
            item = self.items[self._slot(ev.output_index, ev.item_id, {"type": "message", "id": ev.item_id,
                                                                      "role": "assistant"})]
            parts = item["content"] = list(item.get("content") or [])
            while len(parts) <= ev.content_index:
                parts.append({"type": "output_text", "text": "", "annotations": []})
            parts[ev.content_index] = {**parts[ev.content_index],
                                       "text": (parts[ev.content_index].get("text") or "") + ev.delta}
        elif isinstance(ev, (ArgumentsDeltaEvent, ArgumentsDoneEvent)):
            item = self.items[self._slot(ev.output_index, ev.item_id, {"type": "function_call", "id": ev.item_id})]
            if isinstance(ev, ArgumentsDoneEvent):
                item["arguments"] = ev.arguments
            else:
                item["arguments"] = (item.get("arguments") or "") + ev.delta

    def response(self) -> Response:
        if self.last is None:
            raise ResponsesError("the stream ended before response.completed (or .incomplete/.failed)")
        obj = dict(self.last)
        if not obj.get("output") and self.items:
            obj["output"] = self.items
        return parse_response(obj)
