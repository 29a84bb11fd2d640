"""A client for the OpenAI Responses API (POST /v1/responses) over httpx, for any server that has it.

`responses(request)` sends a Request (or a plain JSON body) and returns a typed Response; with
stream=True it returns a ResponseStream that yields typed events parsed from SSE (httpx-sse) and
assembles the final Response from them. `output_text()` and `function_calls()` read a Response;
`run_with_tools()` runs the model's function calls locally and sends `function_call_output` items
back: by `previous_response_id` where the server stores responses, else by resending the input and
every output item. Every failure is one ResponsesError: the HTTP status (None when there was no
answer) and the server's message, in one line. The wire shapes are in responses_types.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, overload

import httpx
from httpx_sse import EventSource, SSEError

from harness.agent.responses_types import (
    TERMINAL,
    ArgumentsDeltaEvent,
    ArgumentsDoneEvent,
    Assembler,
    ErrorEvent,
    Event,
    FunctionCall,
    Item,
    Message,
    OutputItemEvent,
    Reasoning,
    Response,
    ResponseEvent,
    ResponsesError,
    TextDeltaEvent,
    Usage,
    parse_event,
    parse_response,
)
from harness.errors import one_line

__all__ = ["ArgumentsDeltaEvent", "ArgumentsDoneEvent", "ArgumentsError", "ErrorEvent", "Event", "FunctionCall",
           "Item", "Message", "OutputItemEvent", "Reasoning", "Request", "Response", "ResponseEvent",
           "ResponseStream", "ResponsesError", "TextDeltaEvent", "ToolCall", "ToolResult", "ToolRun", "Usage",
           "function_call_output", "function_calls", "function_tool", "output_text", "parse_arguments",
           "responses", "run_tool", "run_with_tools"]

LOOPBACK = ("127.0.0.1", "localhost", "::1")
FALLBACK_CODES = (400, 404, 422, 501)  # how servers refuse a previous_response_id they cannot resolve
Chain = Literal["auto", "previous_response_id", "resend"]


class ArgumentsError(ValueError):
    """A function call's arguments are not a JSON object (one line)."""


# ---- reading a response ------------------------------------------------------------------------------

def output_text(resp: Response) -> str:
    """The text of every assistant message, joined (reasoning and calls left out)."""
    return "".join(item.text for item in resp.output if isinstance(item, Message))


@dataclass(frozen=True)
class ToolCall:
    name: str
    call_id: str
    arguments: dict[str, Any]


def parse_arguments(call: FunctionCall) -> dict[str, Any]:
    """The call's arguments as a dict (empty text is no arguments); ArgumentsError if not a JSON object."""
    if not call.arguments.strip():
        return {}
    try:
        args = json.loads(call.arguments)
    except json.JSONDecodeError as e:
        raise ArgumentsError(f"function call {call.name!r} ({call.call_id}): arguments are not valid JSON "
                             f"({e.msg} at {e.pos}): {call.arguments[:120]!r}") from e
    if not isinstance(args, dict):
        raise ArgumentsError(f"function call {call.name!r} ({call.call_id}): arguments must be a JSON object, "
                             f"got {type(args).__name__}: {call.arguments[:120]!r}")
    return args


def function_calls(resp: Response) -> list[ToolCall]:
    """The function calls in resp, arguments parsed (ArgumentsError on the first invalid one)."""
    return [ToolCall(c.name, c.call_id, parse_arguments(c)) for c in resp.output if isinstance(c, FunctionCall)]


# ---- what the client sends ------------------------------------------------------------------------

def function_tool(name: str, description: str, parameters: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A function tool definition: {"type": "function", "name", "description", "parameters"}."""
    return {"type": "function", "name": name, "description": description,
            "parameters": dict(parameters or {"type": "object", "properties": {}})}


def function_call_output(call_id: str, output: str) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": output}


@dataclass(frozen=True)
class Request:
    """A request body; `extra` holds any other field of the API, sent as is."""
    input: str | list[dict[str, Any]]
    model: str | None = None
    instructions: str | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: str | dict[str, Any] | None = None
    reasoning_effort: str | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    previous_response_id: str | None = None
    store: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"input": self.input, **self.extra}
        for key in ("model", "instructions", "tool_choice", "max_output_tokens", "temperature",
                    "previous_response_id", "store"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.tools:
            out["tools"] = list(self.tools)
        if self.reasoning_effort is not None:
            out["reasoning"] = {**out.get("reasoning", {}), "effort": self.reasoning_effort}
        return check_body(out)


def check_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """body as a dict if its fields have the API's shapes; ValueError (one line) naming the first that has not."""
    body, inp = dict(body), body.get("input")
    if not isinstance(inp, (str, list)):
        raise ValueError(f"input must be text or a list of items, got {'nothing' if inp is None else repr(inp)[:80]}")
    for i, item in enumerate(inp if isinstance(inp, list) else []):
        if not isinstance(item, dict) or not ("type" in item or "role" in item):
            raise ValueError(f"input item {i} is not an object with a type or role: {repr(item)[:120]}")
    tools = body.get("tools", [])
    for i, tool in enumerate(tools if isinstance(tools, list) else [None]):
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise ValueError(f"tools[{i}] is not an object with a type: {repr(tool)[:120]}")
        if tool["type"] == "function" and not (isinstance(tool.get("name"), str) and tool["name"]):
            raise ValueError(f"tools[{i}]: a function tool needs a name: {repr(tool)[:120]}")
    choice = body.get("tool_choice", "auto")
    if not (choice in ("auto", "none", "required") or isinstance(choice, dict)):
        raise ValueError(f"tool_choice must be auto, none, required or an object, got {choice!r}")
    n = body.get("max_output_tokens", 1)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"max_output_tokens must be a positive integer, got {n!r}")
    t = body.get("temperature", 0)
    if isinstance(t, bool) or not isinstance(t, (int, float)) or t < 0:
        raise ValueError(f"temperature must be a number >= 0, got {t!r}")
    reasoning = body.get("reasoning") or {}
    effort = reasoning.get("effort", "low") if isinstance(reasoning, dict) else None
    if not isinstance(effort, str) or not effort:
        raise ValueError(f"reasoning effort must be a name such as low, medium or high, got {effort!r}")
    return body


def _body(request: Request | Mapping[str, Any]) -> dict[str, Any]:
    body = request.body() if isinstance(request, Request) else check_body(request)
    body.pop("stream", None)
    return body


# ---- over HTTP --------------------------------------------------------------------------------------

def endpoint(base_url: str) -> str:
    """The /v1/responses URL of a server; base_url may end in /v1."""
    base = base_url.strip().rstrip("/")
    try:
        url = httpx.URL(base)
    except httpx.InvalidURL:
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"base_url must be http(s)://host[:port][/v1], got {base_url!r}")
    return base + ("/responses" if base.endswith("/v1") else "/v1/responses")


def _server_error(resp: httpx.Response) -> tuple[str, str]:
    """(message, code or type) of the server's error: OpenAI's {"error": {...}}, another JSON shape, or the text."""
    try:
        obj = resp.json()
    except ValueError:
        return one_line(resp.text), ""
    err = obj.get("error") or obj.get("detail") or obj.get("message") or obj if isinstance(obj, dict) else obj
    if isinstance(err, dict) and err.get("message"):
        kind = next((k for k in (err.get("code"), err.get("type")) if isinstance(k, str) and k), "")
        return one_line(err["message"]), kind
    return one_line(err), ""


def _finished(resp: Response) -> Response:
    """resp, unless it failed: then ResponsesError with its error."""
    if resp.status != "failed":
        return resp
    err = resp.error or {}
    msg = str(err.get("message") or err or "no error given")
    raise ResponsesError(f"response {resp.id} failed: {err.get('code') or 'error'}: {msg}", 200, msg)


class ResponseStream:
    """A streamed response: iterate for its typed events as they arrive; `.response` is the final Response
    (assembled from them) once the stream has ended. An error event or a failed response is yielded,
    then raised as ResponsesError. Close it, or use `with`, when leaving before the end."""

    def __init__(self, resp: httpx.Response, url: str, client: httpx.Client | None) -> None:
        self._resp, self._url, self._client = resp, url, client  # client: ours to close, else None
        self._assembler = Assembler()
        self._started = False
        self.response: Response | None = None

    def __iter__(self) -> Iterator[Event]:
        if self._started:
            raise ResponsesError("a ResponseStream can be iterated once")
        self._started = True
        try:
            for sse in EventSource(self._resp).iter_sse():
                if not sse.data or sse.data.strip() == "[DONE]":
                    continue
                event = parse_event(sse.event, sse.data)
                self._assembler.feed(event)
                yield event
                if isinstance(event, ErrorEvent):
                    code = f"{event.code}: " if event.code else ""
                    raise ResponsesError(f"server error in stream from {self._url}: {code}{event.message}",
                                         self._resp.status_code, event.message)
                if event.type in TERMINAL:
                    break
            self.response = _finished(self._assembler.response())
        except SSEError as e:
            raise ResponsesError(f"{self._url} sent no event stream: {e}", self._resp.status_code) from e
        except httpx.TransportError as e:
            raise ResponsesError(f"stream from {self._url} broke off ({type(e).__name__}: {e})") from e
        finally:
            self.close()

    def until_done(self) -> Response:
        """Read the rest of the stream; the final Response."""
        if not self._started:
            for _ in self:
                pass
        if self.response is None:
            raise ResponsesError(f"the stream from {self._url} did not finish")
        return self.response

    def close(self) -> None:
        self._resp.close()
        if self._client is not None:
            self._client.close()

    def __enter__(self) -> ResponseStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def new_client(url: str) -> httpx.Client:
    """An httpx.Client for url's server: no proxy from the environment for a loopback one."""
    return httpx.Client(trust_env=httpx.URL(url).host not in LOOPBACK)


@overload
def responses(request: Request | Mapping[str, Any], *, base_url: str, api_key: str | None = None,
              client: httpx.Client | None = None, timeout: float = 300.0,
              stream: Literal[False] = False) -> Response: ...
@overload
def responses(request: Request | Mapping[str, Any], *, base_url: str, api_key: str | None = None,
              client: httpx.Client | None = None, timeout: float = 300.0,
              stream: Literal[True]) -> ResponseStream: ...


def responses(request: Request | Mapping[str, Any], *, base_url: str, api_key: str | None = None,
              client: httpx.Client | None = None, timeout: float = 300.0,
              stream: bool = False) -> Response | ResponseStream:
    """POST the request to {base_url}/v1/responses: the Response, or with stream=True a ResponseStream.

    client: an httpx.Client to use (left open), else one made for this call (no proxy for loopback)."""
    url, body = endpoint(base_url), {**_body(request), "stream": stream}
    headers = {"Accept": "text/event-stream" if stream else "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    own = client is None
    http = client or new_client(url)
    t = httpx.Timeout(timeout, connect=min(timeout, 10.0))
    try:
        resp = http.send(http.build_request("POST", url, json=body, headers=headers, timeout=t), stream=stream)
    except httpx.TransportError as e:
        if own:
            http.close()
        raise ResponsesError(f"POST {url}: no answer ({type(e).__name__}: {e})") from e
    handed_over = False
    try:
        if not resp.is_success:
            resp.read()
            msg, kind = _server_error(resp)
            raise ResponsesError(f"POST {url} failed with HTTP {resp.status_code}: "
                                 f"{kind + ': ' if kind else ''}{msg or 'no message'}", resp.status_code, msg)
        if stream:
            handed_over = True
            return ResponseStream(resp, url, http if own else None)
        try:
            obj = resp.json()
        except ValueError as e:
            raise ResponsesError(f"POST {url} answered no JSON: {resp.text[:120]!r}", resp.status_code) from e
        return _finished(parse_response(obj))
    finally:
        if not handed_over:  # the stream closes them itself
            resp.close()
            if own:
                http.close()


# ---- the function-call loop ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ToolResult:
    name: str
    call_id: str
    arguments: dict[str, Any] | None  # None when they could not be parsed
    output: str                       # what went back to the model ("error: ..." when not ok)
    ok: bool


@dataclass(frozen=True)
class ToolRun:
    response: Response               # the last one
    results: list[ToolResult]        # every call run, in order
    rounds: int                      # responses received
    chain: str                       # how outputs went back: previous_response_id, resend, "" (never)
    finished: bool                   # False: max_rounds reached with calls left unanswered


def run_tool(call: FunctionCall, tools: Mapping[str, Callable[..., Any]]) -> ToolResult:
    """Run one call with its arguments as keywords; an unknown tool, bad arguments or an exception
    become an error output, never a raise. A result that is not text goes back as JSON."""
    fn = tools.get(call.name)
    if fn is None:
        known = ", ".join(sorted(tools)) or "none"
        return ToolResult(call.name, call.call_id, None, f"error: unknown tool {call.name!r} (tools: {known})", False)
    try:
        args = parse_arguments(call)
    except ArgumentsError as e:
        return ToolResult(call.name, call.call_id, None, f"error: {e}", False)
    try:
        out = fn(**args)
        text = out if isinstance(out, str) else json.dumps(out, ensure_ascii=False, default=str)
    except Exception as e:  # any tool failure goes back to the model
        return ToolResult(call.name, call.call_id, args, f"error: {call.name} raised {type(e).__name__}: {e}", False)
    return ToolResult(call.name, call.call_id, args, text, True)


def _chains_by_id(chain: Chain, resp: Response, body: Mapping[str, Any]) -> bool:
    """Send only the outputs, with previous_response_id? auto: when the server says it stored resp."""
    if chain == "previous_response_id" and not resp.id:
        raise ResponsesError("chain=previous_response_id, but the server gave the response no id")
    if chain == "auto":
        return bool(resp.id) and resp.raw.get("store") is True and body.get("store") is not False
    return chain == "previous_response_id"


def run_with_tools(request: Request | Mapping[str, Any], tools: Mapping[str, Callable[..., Any]], *,
                   base_url: str, api_key: str | None = None, client: httpx.Client | None = None,
                   timeout: float = 300.0, max_rounds: int = 8, chain: Chain = "auto") -> ToolRun:
    """Request, run the function calls locally, send their outputs back; until a response without
    calls or max_rounds responses. chain: previous_response_id, resend (the input, every output item
    and the outputs), or auto: previous_response_id when the server says it stores responses, else
    (and when the server refuses it: HTTP 400/404/422/501) resend. One connection serves every round."""
    if isinstance(max_rounds, bool) or not isinstance(max_rounds, int) or max_rounds < 1:
        raise ValueError(f"max_rounds must be a positive integer, got {max_rounds!r}")
    if chain not in ("auto", "previous_response_id", "resend"):
        raise ValueError(f"chain must be auto, previous_response_id or resend, got {chain!r}")
    body = _body(request)
    history = [{"role": "user", "content": body["input"]}] if isinstance(body["input"], str) else list(body["input"])
    http = client or new_client(endpoint(base_url))

    def send(b: dict[str, Any]) -> Response:
        return responses(b, base_url=base_url, api_key=api_key, client=http, timeout=timeout)

    try:
        results: list[ToolResult] = []
        resp, rounds, used = send(body), 1, ""
        while True:
            calls = [item for item in resp.output if isinstance(item, FunctionCall)]
            if not calls or rounds >= max_rounds:
                return ToolRun(resp, results, rounds, used, not calls)
            done = [run_tool(c, tools) for c in calls]
            results += done
            outputs = [function_call_output(r.call_id, r.output) for r in done]
            history += [item.raw for item in resp.output] + outputs
            nxt = None
            if _chains_by_id(chain, resp, body):
                try:
                    nxt = send({**body, "input": outputs, "previous_response_id": resp.id})
                    chain = used = "previous_response_id"
                except ResponsesError as e:
                    if chain != "auto" or e.status_code not in FALLBACK_CODES:
                        raise
            if nxt is None:
                nxt = send({**body, "input": history})
                chain = used = "resend"
            resp, rounds = nxt, rounds + 1
    finally:
        if client is None:
            http.close()
