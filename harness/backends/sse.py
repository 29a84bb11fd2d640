"""Server-sent events of one streamed request: what each endpoint's chunks carry, parsed.

Each parser turns one SSE event into `Chunk`s: generated pieces (a token id and/or text), the end
of the stream, and the run's `timings`/`usage` when the server sends them. No clocks here: the
backend stamps each event as it arrives.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.errors import one_line


class StreamError(ValueError):
    """The stream is malformed or carries the server's error (one line)."""


@dataclass
class Chunk:
    """What one SSE event carried."""
    pieces: list[tuple[int | None, str]] = field(default_factory=list)  # (token id or None, text)
    n_decoded: int | None = None    # /completion: tokens the server has generated so far
    done: bool = False              # the server's last event
    timings: dict[str, Any] | None = None
    usage: dict[str, Any] | None = None


def _load(data: str) -> Any:
    try:
        return json.loads(data)
    except json.JSONDecodeError as e:
        raise StreamError(f"malformed SSE data ({e.msg} at {e.pos}): {data[:120]!r}") from e


def _error(obj: Any) -> None:
    """Raise the server's in-stream error, if obj is one."""
    if isinstance(obj, dict) and obj.get("error"):
        err = obj["error"]
        msg = err.get("message", err) if isinstance(err, dict) else err
        raise StreamError(f"server error in stream: {one_line(msg)}")


def _object(data: str) -> dict[str, Any]:
    obj = _load(data)
    if not isinstance(obj, dict):
        raise StreamError(f"malformed SSE data (not an object): {data[:120]!r}")
    _error(obj)
    return obj


def completion(event: str, data: str) -> Chunk:
    """llama-server /completion: {content, tokens, stop, tokens_predicted, timings}."""
    obj = _object(data)
    tokens = obj.get("tokens") or []
    text = obj.get("content") or ""
    if not isinstance(tokens, list):
        raise StreamError(f"malformed /completion chunk: tokens={tokens!r}")
    pieces: list[tuple[int | None, str]] = [(int(t), "") for t in tokens]
    if pieces:
        pieces[-1] = (pieces[-1][0], text)   # the text arrives with the chunk's last token
    elif text:
        pieces = [(None, text)]
    n = obj.get("tokens_predicted")
    return Chunk(pieces, n_decoded=n if isinstance(n, int) else None, done=bool(obj.get("stop")),
                 timings=obj.get("timings"), usage=obj.get("usage"))


def v1_completions(event: str, data: str) -> Chunk:
    """OpenAI /v1/completions: choices[0].text; a usage-only chunk at the end; [DONE]."""
    if data.strip() == "[DONE]":
        return Chunk(done=True)
    obj = _object(data)
    choices = obj.get("choices") or []
    text = "".join(c.get("text") or "" for c in choices if isinstance(c, dict))
    return Chunk([(None, text)] if text else [], timings=obj.get("timings"), usage=obj.get("usage"))


def v1_chat(event: str, data: str) -> Chunk:
    """OpenAI /v1/chat/completions: delta content, reasoning, tool-call arguments; role-only is nothing."""
    if data.strip() == "[DONE]":
        return Chunk(done=True)
    obj = _object(data)
    pieces: list[tuple[int | None, str]] = []
    for choice in obj.get("choices") or []:
        delta = choice.get("delta") or {} if isinstance(choice, dict) else {}
        for key in ("reasoning_content", "reasoning", "content"):
            if isinstance(delta.get(key), str) and delta[key]:
                pieces.append((None, delta[key]))
        for call in delta.get("tool_calls") or []:
            fn = call.get("function") or {}
            text = (fn.get("name") or "") + (fn.get("arguments") or "")
            if text:
                pieces.append((None, text))
    return Chunk(pieces, timings=obj.get("timings"), usage=obj.get("usage"))


RESPONSE_DELTAS = ("response.output_text.delta", "response.reasoning_text.delta",
                   "response.reasoning_summary_text.delta", "response.function_call_arguments.delta")


def v1_responses(event: str, data: str) -> Chunk:
    """OpenAI /v1/responses: typed events; text and reasoning deltas are generated pieces."""
    obj = _object(data)
    kind = obj.get("type") or event
    if kind in ("error", "response.failed"):
        err = obj.get("error") or (obj.get("response") or {}).get("error") or obj
        raise StreamError(f"server error in stream: {err.get('message', err) if isinstance(err, dict) else err}")
    if kind in RESPONSE_DELTAS:
        delta = obj.get("delta") or ""
        return Chunk([(None, delta)] if delta else [], timings=obj.get("timings"))
    if kind in ("response.completed", "response.incomplete"):
        resp = obj.get("response") or {}
        return Chunk(done=True, timings=obj.get("timings") or resp.get("timings"), usage=resp.get("usage"))
    return Chunk(timings=obj.get("timings"))


def cached_tokens(timings: dict[str, Any], usage: dict[str, Any]) -> int | None:
    """Prompt tokens the server took from its prompt cache, as its last event said: llama-server's
    timings.cache_n, else the OpenAI usage's prompt_tokens_details (input_tokens_details).cached_tokens;
    None where the server does not say."""
    n = timings.get("cache_n")
    if n is None:
        details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or {}
        n = details.get("cached_tokens") if isinstance(details, dict) else None
    return int(n) if isinstance(n, (int, float)) else None


PARSERS: dict[str, Callable[[str, str], Chunk]] = {
    "completion": completion, "v1_completions": v1_completions, "v1_chat": v1_chat,
    "v1_responses": v1_responses}
