"""`harness infer` over the OpenAI-style endpoints where the server applies the chat template itself.

- v1_chat: POST /v1/chat/completions, the prompt as one user message; the answer's content streams
  to stdout (reasoning is not printed). No tools.
- v1_responses: POST /v1/responses through `harness.agent.responses`. Without tools the answer's
  text streams; with --tools every tool's functions go to the server as function tools and
  `run_with_tools` runs the model's function calls locally, sending `function_call_output` items
  back, until a response without calls (its text is printed) or --max-turns responses.

Messages (user, calls, tool results, final answer) go to `emit` as Harmony messages, so tool
activity on stderr and --record transcripts look as they do on the Harmony path. A failure raises
UnsupportedEndpoint (the server has no such endpoint) or HttpBackendError (anything else), one
line each; `answering()` finds which endpoints a server does have, for the error's advice.
"""
from __future__ import annotations

import argparse
import inspect
import json
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from httpx_sse import EventSource, SSEError

from harness.agent.tools.base import Function, Toolset, invoke
from harness.backends.http import PATHS, HttpBackendError, UnsupportedEndpoint, error_message
from harness.errors import one_line

Emit = Callable[[str, Any, dict[str, Any]], None]
TIMEOUT_S = 600.0
PROBE_TIMEOUT_S = 5.0
ABSENT = (404, 405, 501)  # how servers say they have no such endpoint


def http_error(endpoint: str, url: str, code: int, msg: str) -> HttpBackendError | UnsupportedEndpoint:
    """The one-line error of an HTTP error answer; a missing endpoint (404 not about a model, 405,
    501) is UnsupportedEndpoint, as HttpBackend says it."""
    path = PATHS[endpoint]
    if code in (405, 501) or (code == 404 and "model" not in msg.lower()):
        return UnsupportedEndpoint(f"endpoint {endpoint}: POST {path} is not supported by the server at {url} "
                                   f"(HTTP {code}{': ' + msg if msg else ''})")
    return HttpBackendError(f"endpoint {endpoint}: POST {url}{path} failed with HTTP {code}: {msg or 'no message'}")


def answering(url: str, skip: str = "") -> list[str]:
    """The endpoints (PATHS keys but `skip`) the server at url has: those answering an empty JSON
    body with anything but 404/405/501 (an empty body is refused, so nothing is generated)."""
    from harness.agent.responses import new_client
    found: list[str] = []
    with new_client(url) as client:
        for name, path in PATHS.items():
            if name == skip:
                continue
            try:
                resp = client.post(url + path, json={}, timeout=PROBE_TIMEOUT_S)
            except httpx.HTTPError:
                continue
            if resp.status_code not in ABSENT:
                found.append(name)
    return found


# ---- v1_chat --------------------------------------------------------------------------------------

def _chat_text(obj: dict[str, Any], key: str) -> str:
    """The answer's text in a chat chunk (key "delta") or a whole chat completion (key "message")."""
    if isinstance(obj.get("error"), (dict, str)):
        err = obj["error"]
        raise HttpBackendError(f"endpoint v1_chat: server error in stream: "
                               f"{one_line(err.get('message', err) if isinstance(err, dict) else err)}")
    parts = [(c.get(key) or {}).get("content") for c in obj.get("choices") or [] if isinstance(c, dict)]
    return "".join(p for p in parts if isinstance(p, str))


def _chat_stream(resp: httpx.Response) -> Iterator[str | None]:
    """The answer's pieces of a chat completion answer; None at its end ([DONE] or a finish_reason)."""
    if "text/event-stream" not in resp.headers.get("content-type", ""):  # answered without streaming
        resp.read()
        yield _chat_text(resp.json(), "message")
        yield None
        return
    for event in EventSource(resp).iter_sse():
        if not event.data:
            continue
        if event.data.strip() == "[DONE]":
            yield None
            return
        obj = json.loads(event.data)
        if not isinstance(obj, dict):
            raise ValueError(f"a chunk is not an object: {event.data[:120]!r}")  # not TypeError: caught as bad data
        yield _chat_text(obj, "delta")
        if any(isinstance(c, dict) and c.get("finish_reason") for c in obj.get("choices") or []):
            yield None
            return


def chat(url: str, prompt: str, a: argparse.Namespace, emit: Emit) -> int:
    """Stream the answer to prompt from /v1/chat/completions to stdout."""
    from harness.agent.responses import new_client
    from harness.harmony import assistant, user
    emit("user", user(prompt), {})
    path = PATHS["v1_chat"]
    body = {"model": a.model, "messages": [{"role": "user", "content": prompt}], "max_tokens": a.max_tokens,
            "temperature": a.temperature, "reasoning_effort": a.reasoning_effort, "stream": True}
    answer: list[str] = []
    done = False
    with new_client(url) as client:
        try:
            with client.stream("POST", url + path, json=body, timeout=httpx.Timeout(TIMEOUT_S, connect=10.0),
                               headers={"Accept": "text/event-stream"}) as resp:
                if resp.status_code != 200:
                    resp.read()
                    raise http_error("v1_chat", url, resp.status_code, error_message(resp))
                try:
                    for piece in _chat_stream(resp):
                        if piece is None:
                            done = True
                            break
                        answer.append(piece)
                        sys.stdout.write(piece)
                        sys.stdout.flush()
                except (SSEError, ValueError) as e:  # not SSE, not JSON
                    raise HttpBackendError(f"endpoint v1_chat at {url}: unreadable answer: {one_line(e, 200)}") from e
        except httpx.TransportError as e:
            raise HttpBackendError(f"endpoint v1_chat: connection to {url} failed "
                                   f"({type(e).__name__}: {one_line(e, 200)})") from e
    sys.stdout.write("\n")
    if not done:
        raise HttpBackendError(f"endpoint v1_chat: the stream from {url} ended before the answer did")
    emit("assistant", assistant("".join(answer)), {})
    return 0


# ---- v1_responses ----------------------------------------------------------------------------------

def _runner(func: Function, param: str | None, emit: Emit) -> Callable[..., str]:
    """The callable run_with_tools calls: the model's arguments go through the toolset (schema
    checked; every failure an error result for the model), the call and result to emit."""
    from harness.harmony import assistant, tool_result

    def run(**kwargs: Any) -> str:
        text = kwargs.get(param) if param is not None and list(kwargs) == [param] else None
        content = text if isinstance(text, str) else json.dumps(kwargs, ensure_ascii=False)
        emit("assistant", assistant(content, "commentary").with_recipient(func.recipient), {})
        t0 = time.perf_counter_ns()
        result = invoke(func, content)
        ms = (time.perf_counter_ns() - t0) * 1e-6
        emit("tool_result", tool_result(func.recipient, result.text), {"tool_ms": ms, "error": result.error})
        return result.text
    return run


def function_tools(
        toolset: Toolset, emit: Emit) -> tuple[list[dict[str, Any]], dict[str, Callable[..., str]], str | None]:
    """(function tool definitions, name -> callable, instructions) of a toolset for the Responses API.

    A function's name is its recipient without `functions.`, dots as underscores (browser_search);
    a freeform function (python, apply_patch) takes its text as the one string parameter."""
    from harness.agent.responses import function_tool
    from harness.harmony.recipients import short_name
    defs: list[dict[str, Any]] = []
    calls: dict[str, Callable[..., str]] = {}
    notes: list[str] = []
    for tool in toolset.tools:
        if tool.builtin and tool.description:
            notes.append(f"# {tool.name}\n\n{tool.description}")
        instructions = getattr(tool, "instructions", None)  # apply_patch's format
        if isinstance(instructions, str) and instructions:
            notes.append(instructions)
        for func in tool.functions():
            name, param = short_name(func.recipient).replace(".", "_"), None
            params = func.parameters
            if func.freeform:
                (param,) = list(inspect.signature(func.fn).parameters)
                params = {"type": "object", "properties": {param: func.parameters}, "required": [param],
                          "additionalProperties": False}
            defs.append(function_tool(name, func.description, params))
            calls[name] = _runner(func, param, emit)
    return defs, calls, "\n\n".join(notes) or None


def _converted(e: Exception, url: str) -> HttpBackendError | UnsupportedEndpoint:
    from harness.agent.responses import ResponsesError
    if isinstance(e, ResponsesError) and e.status_code is not None and e.status_code != 200:
        return http_error("v1_responses", url, e.status_code, e.server_message)
    return HttpBackendError(f"endpoint v1_responses: {e}")


def respond(url: str, prompt: str, toolset: Toolset | None, a: argparse.Namespace, emit: Emit) -> int:
    """The answer to prompt from /v1/responses on stdout; with tools, after the function-call loop."""
    from harness.agent.responses import Request, ResponsesError, TextDeltaEvent, output_text, responses, run_with_tools
    from harness.harmony import assistant, user
    emit("user", user(prompt), {})
    defs, calls, notes = function_tools(toolset, emit) if toolset is not None else ([], {}, None)
    request = Request(input=prompt, model=a.model, instructions=notes, tools=defs,
                      reasoning_effort=a.reasoning_effort, max_output_tokens=a.max_tokens,
                      temperature=a.temperature)
    try:
        if defs:
            run = run_with_tools(request, calls, base_url=url, timeout=TIMEOUT_S, max_rounds=a.max_turns)
            resp, text = run.response, output_text(run.response)
            sys.stdout.write(text)
            if not run.finished:
                print(f"[end] calls left unanswered after {run.rounds} responses (--max-turns)", file=sys.stderr)
        else:
            stream, shown = responses(request, base_url=url, timeout=TIMEOUT_S, stream=True), False
            for ev in stream:
                if isinstance(ev, TextDeltaEvent) and ev.delta:
                    sys.stdout.write(ev.delta)
                    sys.stdout.flush()
                    shown = True
            resp = stream.until_done()
            text = output_text(resp)
            if not shown:  # a server that sent the text only in the final response
                sys.stdout.write(text)
    except (ResponsesError, ValueError) as e:
        sys.stdout.write("\n")
        raise _converted(e, url) from e
    sys.stdout.write("\n")
    if text:
        emit("assistant", assistant(text), {})
    if resp.status == "incomplete":
        reason = (resp.raw.get("incomplete_details") or {}).get("reason") or "no reason given"
        print(f"[end] the response is incomplete ({reason})", file=sys.stderr)
    elif not text:
        print(f"[end] no answer text in the response (status {resp.status})", file=sys.stderr)
    return 0
