"""The Responses API client over real HTTP: a replay server speaking OpenAI's documented shapes (the
function-call loop, both ways of sending outputs back, streaming, errors) and a real llama-server on
synthetic-tiny (text and items input, streaming, max_output_tokens, its refusal of previous_response_id).

Every server listens on 127.0.0.1 and is stopped by the test that started it.
"""
from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import psutil
import pytest
from loopback import QuietHandler, loopback

from harness.agent.responses import (
    ArgumentsDeltaEvent,
    ArgumentsDoneEvent,
    ArgumentsError,
    ErrorEvent,
    FunctionCall,
    Message,
    OutputItemEvent,
    Request,
    ResponseEvent,
    ResponsesError,
    TextDeltaEvent,
    function_call_output,
    function_calls,
    function_tool,
    output_text,
    responses,
    run_with_tools,
)
from harness.agent.responses_types import Assembler, parse_event

# ---- recorded OpenAI Responses API objects (shapes as in OpenAI's API reference and function-calling guide)

WEATHER = function_tool("get_weather", "Get current temperature for a given location.",
                        {"type": "object", "properties": {"location": {"type": "string"}},
                         "required": ["location"], "additionalProperties": False})
CALL = {"id": "fc_67ca09c6bedc8190a7abfec07b1a1332096610f474011cc0", "type": "function_call", "status": "completed",
        "arguments": "{\"location\":\"Paris, France\"}", "call_id": "call_unLAR8MvFNptuiZK6K6HCy5k",
        "name": "get_weather"}
ANSWER = {"id": "msg_67ccd3acc8d48190a77525dc6de64b4104becb25c45c1d41", "type": "message", "status": "completed",
          "role": "assistant", "content": [{"type": "output_text", "text": "It is 15°C in Paris right now.",
                                            "annotations": [], "logprobs": []}]}


def _response(n: int, output: list[dict], store: bool, previous: str | None) -> dict[str, Any]:
    return {"id": f"resp_67ccd2bed1ec8190b14f964abc05{n:04d}", "object": "response", "created_at": 1741476542,
            "status": "completed", "background": False, "error": None, "incomplete_details": None,
            "instructions": None, "max_output_tokens": None, "model": "gpt-oss-20b", "output": output,
            "parallel_tool_calls": True, "previous_response_id": previous,
            "reasoning": {"effort": None, "summary": None}, "store": store, "temperature": 1.0,
            "text": {"format": {"type": "text"}}, "tool_choice": "auto", "tools": [WEATHER], "top_p": 1.0,
            "truncation": "disabled", "user": None, "metadata": {},
            "usage": {"input_tokens": 291, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 23,
                      "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 314}}


def _chunks(text: str, n: int = 5) -> list[str]:
    return [text[i:i + n] for i in range(0, len(text), n)]


def _events(resp: dict[str, Any]) -> list[dict[str, Any]]:
    """The SSE events OpenAI streams for resp: created, in_progress, per item added/deltas/done, completed."""
    opening = {**resp, "status": "in_progress", "output": [], "usage": None}
    out: list[dict[str, Any]] = [{"type": "response.created", "response": opening},
                                 {"type": "response.in_progress", "response": opening}]
    for i, item in enumerate(resp["output"]):
        at = {"item_id": item["id"], "output_index": i}
        if item["type"] == "function_call":
            out.append({"type": "response.output_item.added", "output_index": i,
                        "item": {**item, "status": "in_progress", "arguments": ""}})
            out += [{"type": "response.function_call_arguments.delta", **at, "delta": d}
                    for d in _chunks(item["arguments"])]
            out.append({"type": "response.function_call_arguments.done", **at, "arguments": item["arguments"]})
        else:
            text, part = item["content"][0]["text"], {"type": "output_text", "annotations": [], "logprobs": [],
                                                      "text": ""}
            out.append({"type": "response.output_item.added", "output_index": i,
                        "item": {**item, "status": "in_progress", "content": []}})
            out.append({"type": "response.content_part.added", **at, "content_index": 0, "part": part})
            out += [{"type": "response.output_text.delta", **at, "content_index": 0, "delta": d, "logprobs": []}
                    for d in _chunks(text)]
            out.append({"type": "response.output_text.done", **at, "content_index": 0, "text": text, "logprobs": []})
            out.append({"type": "response.content_part.done", **at, "content_index": 0, "part": {**part, "text": text}})
        out.append({"type": "response.output_item.done", "output_index": i, "item": item})
    out.append({"type": "response.completed", "response": resp})
    return [{**ev, "sequence_number": n} for n, ev in enumerate(out)]


def _error(code: int, message: str, param: str | None = None) -> tuple[int, dict[str, Any]]:
    return code, {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": None}}


class Replay:
    """The server's side: first a function call, then, once its function_call_output arrives, a message.

    store: responses are stored and previous_response_id resolves them (as OpenAI's); else the server
    answers 400 to previous_response_id (as llama-server). refuse: says it stores, yet answers 400.
    call: the function_call item to replay; always_call: never answer with the message."""

    def __init__(self, store: bool = True, refuse: bool = False, call: dict | None = None,
                 always_call: bool = False, stream_error: bool = False) -> None:
        self.store, self.refuse, self.call = store, refuse, call or CALL
        self.always_call, self.stream_error = always_call, stream_error
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.stored: dict[str, list[dict[str, Any]]] = {}  # response id -> the items up to its output
        self.served = 0
        self.url = ""

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        prev = body.get("previous_response_id")
        if prev is not None and (self.refuse or not self.store):
            return _error(400, "This server does not support 'previous_response_id'.", "previous_response_id")
        if prev is not None and prev not in self.stored:
            return _error(404, f"Previous response with id '{prev}' not found.", "previous_response_id")
        given = body["input"] if isinstance(body["input"], list) else [{"role": "user", "content": body["input"]}]
        items = self.stored.get(prev, []) + given
        calls = {it["call_id"] for it in items if it.get("type") == "function_call"}
        for it in items:
            if it.get("type") == "function_call_output" and it["call_id"] not in calls:
                return _error(400, f"No tool call found for function call output with call_id {it['call_id']}.",
                              "input")
        answered = any(it.get("type") == "function_call_output" for it in items)
        output = [ANSWER] if answered and not self.always_call else [self.call]
        resp = _response(self.served, output, self.store, prev)
        self.served += 1
        if self.store:
            self.stored[resp["id"]] = items + output
        return 200, resp


def _handler(replay: Replay) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            replay.requests.append(body)
            replay.headers.append(dict(self.headers))
            if self.path != "/v1/responses":
                return self._send(404, "application/json", b'{"error": {"message": "Not found"}}')
            code, obj = replay.answer(body)
            if code != 200 or not body.get("stream"):
                return self._send(code, "application/json", json.dumps(obj).encode())
            events = _events(obj)
            if replay.stream_error:
                events = [*events[:1], {"type": "error", "sequence_number": 1, "code": "server_error",
                                        "message": "The server had an error while processing your request.",
                                        "param": None}]
            self._send(200, "text/event-stream",
                       "".join(f"event: {ev['type']}\ndata: {json.dumps(ev)}\n\n" for ev in events).encode())

    return Handler


@contextlib.contextmanager
def serving(replay: Replay) -> Iterator[Replay]:
    """replay on a thread, on 127.0.0.1 and a free port; stopped and joined on exit."""
    with loopback(_handler(replay)) as url:
        replay.url = url
        yield replay


def _never(**kwargs: Any) -> None:
    raise AssertionError("this tool must not run")


def _weather(log: list[dict[str, Any]]):
    def get_weather(location: str) -> dict[str, Any]:
        log.append({"location": location})
        return {"location": location, "celsius": 15}
    return get_weather


ASK = Request(input="What is the weather like in Paris today?", model="gpt-oss-20b", tools=[WEATHER],
              tool_choice="auto", reasoning_effort="low", max_output_tokens=256, temperature=0.2)


# ---- the function-call loop over real HTTP --------------------------------------------------------------

def test_loop_sends_outputs_by_previous_response_id_where_the_server_stores():
    ran: list[dict] = []
    with serving(Replay(store=True)) as srv:
        run = run_with_tools(ASK, {"get_weather": _weather(ran)}, base_url=srv.url)
    assert ran == [{"location": "Paris, France"}]
    assert run.chain == "previous_response_id" and run.finished and run.rounds == 2
    assert output_text(run.response) == "It is 15°C in Paris right now."
    first, second = srv.requests
    assert first["input"] == ASK.input and first["reasoning"] == {"effort": "low"} and first["tools"] == [WEATHER]
    assert first["max_output_tokens"] == 256 and first["temperature"] == 0.2 and first["tool_choice"] == "auto"
    assert second["previous_response_id"] == "resp_67ccd2bed1ec8190b14f964abc050000"
    output = json.dumps({"location": "Paris, France", "celsius": 15})
    assert second["input"] == [function_call_output(CALL["call_id"], output)]
    assert second["tools"] == [WEATHER]  # tools are not carried over by previous_response_id
    assert [(r.name, r.call_id, r.arguments, r.ok) for r in run.results] == \
        [("get_weather", CALL["call_id"], {"location": "Paris, France"}, True)]


def test_loop_resends_every_item_where_the_server_does_not_store():
    ran: list[dict] = []
    with serving(Replay(store=False)) as srv:
        run = run_with_tools(ASK, {"get_weather": _weather(ran)}, base_url=srv.url + "/v1/")
    assert ran == [{"location": "Paris, France"}] and run.chain == "resend" and run.finished
    assert len(srv.requests) == 2 and "previous_response_id" not in srv.requests[1]
    sent = srv.requests[1]["input"]
    assert sent[0] == {"role": "user", "content": ASK.input} and sent[1] == CALL
    assert sent[2] == {"type": "function_call_output", "call_id": CALL["call_id"],
                       "output": json.dumps({"location": "Paris, France", "celsius": 15})}
    assert output_text(run.response).startswith("It is 15°C")


def test_auto_falls_back_to_resending_when_previous_response_id_is_refused():
    with serving(Replay(store=True, refuse=True)) as srv:
        run = run_with_tools(ASK, {"get_weather": _weather([])}, base_url=srv.url)
    assert run.chain == "resend" and run.finished and run.rounds == 2
    assert [("previous_response_id" in r) for r in srv.requests] == [False, True, False]


def test_a_forced_chain_the_server_refuses_is_one_clear_error():
    with serving(Replay(store=False)) as srv, pytest.raises(ResponsesError) as e:
        run_with_tools(ASK, {"get_weather": _weather([])}, base_url=srv.url, chain="previous_response_id")
    assert e.value.status_code == 400 and "previous_response_id" in e.value.server_message
    assert "HTTP 400" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("call, tools, expect", [
    (CALL, {"get_weather": lambda location: 1 / 0}, "error: get_weather raised ZeroDivisionError: division by zero"),
    ({**CALL, "name": "get_time"}, {"get_weather": _never}, "error: unknown tool 'get_time' (tools: get_weather)"),
    ({**CALL, "arguments": "{\"location\": \"Par"}, {"get_weather": _never}, "error: function call 'get_weather'"),
    ({**CALL, "arguments": "[1, 2]"}, {"get_weather": _never}, "error: function call 'get_weather'"),
    (CALL, {"get_weather": lambda city: city}, "error: get_weather raised TypeError"),
])
def test_a_failing_call_goes_back_as_an_error_output(call, tools, expect):
    with serving(Replay(store=False, call=call)) as srv:
        run = run_with_tools(ASK, tools, base_url=srv.url)
    sent = srv.requests[1]["input"][-1]
    assert sent["type"] == "function_call_output" and sent["call_id"] == CALL["call_id"]
    assert sent["output"].startswith(expect) and "\n" not in sent["output"]
    assert run.finished and not run.results[0].ok and run.results[0].output == sent["output"]


def test_the_loop_stops_at_max_rounds_with_calls_unanswered():
    ran: list[dict] = []
    with serving(Replay(store=True, always_call=True)) as srv:
        run = run_with_tools(ASK, {"get_weather": _weather(ran)}, base_url=srv.url, max_rounds=3)
    assert run.rounds == 3 and len(srv.requests) == 3 and len(ran) == 2 and not run.finished
    assert isinstance(run.response.output[0], FunctionCall)
    with pytest.raises(ValueError, match="max_rounds"):
        run_with_tools(ASK, {}, base_url=srv.url, max_rounds=0)


# ---- one request, streamed or not ---------------------------------------------------------------------

def test_a_response_is_typed():
    with serving(Replay()) as srv:
        resp = responses(ASK, base_url=srv.url, api_key="sk-test")
    assert srv.headers[0]["Authorization"] == "Bearer sk-test" and srv.requests[0]["stream"] is False
    assert resp.id.startswith("resp_") and resp.status == "completed" and resp.model == "gpt-oss-20b"
    assert resp.usage.input_tokens == 291 and resp.usage.output_tokens == 23 and resp.usage.total_tokens == 314
    assert resp.usage.reasoning_tokens == 0 and resp.usage.cached_tokens == 0
    (call,) = resp.output
    assert isinstance(call, FunctionCall) and (call.name, call.call_id) == ("get_weather", CALL["call_id"])
    assert [(c.name, c.call_id, c.arguments) for c in function_calls(resp)] == \
        [("get_weather", CALL["call_id"], {"location": "Paris, France"})]
    assert output_text(resp) == ""


def test_streaming_yields_typed_events_and_assembles_the_response():
    items = [{"role": "user", "content": "What is the weather like in Paris today?"},
             CALL, function_call_output(CALL["call_id"], "15 C")]
    with serving(Replay(store=False)) as srv:
        with responses(Request(input=[items[0]], tools=[WEATHER]), base_url=srv.url, stream=True) as s:
            call_events = list(s)
        text_stream = responses(Request(input=items, tools=[WEATHER]), base_url=srv.url, stream=True)
        text_events = list(text_stream)
    assert srv.requests[0]["stream"] is True
    assert isinstance(call_events[0], ResponseEvent) and call_events[0].type == "response.created"
    assert call_events[-1].type == "response.completed" and isinstance(call_events[-1], ResponseEvent)
    assert [e.sequence_number for e in call_events] == list(range(len(call_events)))
    deltas = [e.delta for e in call_events if isinstance(e, ArgumentsDeltaEvent)]
    (done,) = [e for e in call_events if isinstance(e, ArgumentsDoneEvent)]
    assert len(deltas) > 1 and "".join(deltas) == done.arguments == CALL["arguments"]
    added = [e for e in call_events if isinstance(e, OutputItemEvent) and e.type.endswith("added")]
    assert isinstance(added[0].item, FunctionCall) and added[0].item.arguments == ""
    assert function_calls(s.response)[0].arguments == {"location": "Paris, France"}
    text = "".join(e.delta for e in text_events if isinstance(e, TextDeltaEvent))
    assert text == output_text(text_stream.until_done()) == "It is 15°C in Paris right now."
    assert isinstance(text_stream.response.output[0], Message) and text_stream.response.usage.output_tokens == 23


@pytest.mark.parametrize("indexed", [True, False], ids=["openai", "no-output_index"])
def test_a_thin_completed_event_is_filled_from_the_streamed_deltas(indexed):
    """No .done events and a completed response without output; llama-server sends no output_index."""
    events = [e for e in _events(_response(0, [CALL, ANSWER], True, None)) if not e["type"].endswith(".done")]
    events.append({"type": "response.completed", "response": _response(0, [], True, None)})
    assembler = Assembler()
    for e in events:
        e = e if indexed else {k: v for k, v in e.items() if k != "output_index"}
        assembler.feed(parse_event("", json.dumps(e)))
    resp = assembler.response()
    assert [type(item) for item in resp.output] == [FunctionCall, Message]
    assert output_text(resp) == "It is 15°C in Paris right now."
    assert function_calls(resp)[0].arguments == {"location": "Paris, France"}


def test_an_error_event_is_yielded_then_raised():
    with serving(Replay(stream_error=True)) as srv:
        seen = []
        with pytest.raises(ResponsesError) as e:
            for ev in responses(ASK, base_url=srv.url, stream=True):
                seen.append(ev)
    assert [type(ev) for ev in seen] == [ResponseEvent, ErrorEvent] and seen[1].code == "server_error"
    assert "server_error: The server had an error" in str(e.value) and "\n" not in str(e.value)


def test_http_errors_and_bad_input_are_one_clear_line():
    with serving(Replay()) as srv:
        with pytest.raises(ResponsesError) as e:
            responses({"input": "hi", "previous_response_id": "resp_nope"}, base_url=srv.url)
        assert e.value.status_code == 404 and e.value.server_message == "Previous response with id 'resp_nope' not found."
        with pytest.raises(ResponsesError) as e:
            responses({"input": "hi"}, base_url=srv.url + "/v2")
        assert e.value.status_code == 404 and "/v2/v1/responses" in str(e.value)
    with pytest.raises(ResponsesError) as e:  # the server is gone: no answer
        responses({"input": "hi"}, base_url=srv.url)
    assert e.value.status_code is None and "no answer" in str(e.value)
    for bad, msg in ((Request(input=3), "input must be text or a list"),
                     (Request(input=["hi"]), "input item 0"),
                     (Request(input="hi", tools=[{"type": "function"}]), "tools[0]: a function tool needs a name"),
                     (Request(input="hi", max_output_tokens=0), "max_output_tokens"),
                     (Request(input="hi", temperature=-1), "temperature"),
                     (Request(input="hi", tool_choice="sometimes"), "tool_choice")):
        with pytest.raises(ValueError, match=msg.replace("[", r"\[")):
            responses(bad, base_url=srv.url)
    with pytest.raises(ValueError, match="base_url must be"):
        responses({"input": "hi"}, base_url="localhost:8000")


def test_invalid_arguments_are_a_clear_error():
    bad = {**CALL, "arguments": "{\"location\": "}
    with serving(Replay(call=bad)) as srv:
        resp = responses(ASK, base_url=srv.url)
    with pytest.raises(ArgumentsError) as e:
        function_calls(resp)
    assert str(e.value).startswith(f"function call 'get_weather' ({CALL['call_id']}): arguments are not valid JSON")


# ---- a real llama-server on synthetic-tiny ------------------------------------------------------------

BASE = ("workload=chat", "backend=http", "backend.n_ctx=512", "backend.n_batch=64", "backend.n_ubatch=64",
        "backend.n_threads=1")  # one thread: the machine runs benchmarks too


@contextlib.contextmanager
def llama_server_at(tiny_cfg, model, log, *extra: str) -> Iterator[str]:
    """A real llama-server on model (synthetic-tiny) with extra flags; its base URL; stopped on exit."""
    from harness.backends.server import ManagedServer, ServerError, model_args, resolve_binary, supported_flags
    cfg = tiny_cfg(*BASE).backend
    try:
        binary = resolve_binary(cfg)
    except ServerError as e:
        pytest.skip(str(e))
    srv = ManagedServer(binary, model_args(cfg, model, supported_flags(binary), str(binary)) + list(extra))
    srv.start(log)
    pid = srv.pid
    try:
        yield srv.url
    finally:
        srv.stop()
    assert not psutil.pid_exists(pid), "llama-server is still running"


@pytest.fixture(scope="module")
def llama_server(tiny_cfg, tiny_model, tmp_path_factory):
    """With its pure content parser: random weights write no Harmony for its gpt-oss parser."""
    with llama_server_at(tiny_cfg, tiny_model, tmp_path_factory.mktemp("llama-server") / "server.log",
                         "--skip-chat-parsing") as url:
        yield url


def test_llama_server_answers_text_input(llama_server):
    resp = responses(Request(input="Hello, world", max_output_tokens=8, temperature=0, reasoning_effort="low"),
                     base_url=llama_server)
    assert resp.id.startswith("resp_") and resp.status == "completed"
    assert 1 <= resp.usage.output_tokens <= 8 and resp.usage.input_tokens > 0
    assert isinstance(resp.output[-1], Message) and output_text(resp)


def test_llama_server_answers_items_input(llama_server):
    items = [{"role": "system", "content": "You are terse."},
             {"role": "user", "content": [{"type": "input_text", "text": "What is 2+2?"}]},
             {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "4"}]},
             {"role": "user", "content": "And 3+3?"}]
    resp = responses(Request(input=items, max_output_tokens=6, temperature=0), base_url=llama_server + "/v1")
    alone = responses(Request(input="And 3+3?", max_output_tokens=6, temperature=0), base_url=llama_server)
    assert 1 <= resp.usage.output_tokens <= 6 and resp.usage.input_tokens > alone.usage.input_tokens + 10


def test_llama_server_takes_the_items_a_resend_round_sends(llama_server):
    """What run_with_tools resends (input, the function_call item, its output) with the tools, as llama-server
    would get it after a call: accepted, and it reaches the prompt."""
    output = function_call_output(CALL["call_id"], json.dumps({"location": "Paris, France", "celsius": 15}))
    history = [{"role": "user", "content": ASK.input}, CALL, output]
    resp = responses(Request(input=history, tools=[WEATHER], reasoning_effort="low", max_output_tokens=4,
                             temperature=0), base_url=llama_server)
    asked = responses(Request(input=history[:1], tools=[WEATHER], max_output_tokens=4, temperature=0),
                      base_url=llama_server)
    assert resp.status == "completed" and resp.usage.input_tokens > asked.usage.input_tokens + 10


def test_llama_server_streams_events(llama_server):
    ask = Request(input="Hello, world", max_output_tokens=12, temperature=0)
    stream = responses(ask, base_url=llama_server, stream=True)
    events = list(stream)
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert any(isinstance(e, OutputItemEvent) for e in events)
    deltas = [e.delta for e in events if isinstance(e, TextDeltaEvent)]
    assert deltas and output_text(stream.response) == "".join(deltas)
    assert 1 <= stream.response.usage.output_tokens <= 12
    assert output_text(responses(ask, base_url=llama_server)) == output_text(stream.response)  # greedy: the same


@pytest.mark.parametrize("n", [1, 3])
def test_llama_server_honours_max_output_tokens(llama_server, n):
    resp = responses(Request(input="Count from one to one hundred.", max_output_tokens=n, temperature=0),
                     base_url=llama_server)
    assert 1 <= resp.usage.output_tokens <= n


def test_llama_server_refuses_previous_response_id_and_the_loop_resends(llama_server):
    with pytest.raises(ResponsesError) as e:
        responses({"input": "hi", "previous_response_id": "resp_x", "max_output_tokens": 2}, base_url=llama_server)
    assert e.value.status_code == 400 and e.value.server_message == "llama.cpp does not support 'previous_response_id'."
    run = run_with_tools(Request(input="Hello", tools=[WEATHER], max_output_tokens=8, temperature=0),
                         {"get_weather": _never}, base_url=llama_server)
    assert run.finished and run.rounds == 1 and run.chain == "" and run.response.usage.output_tokens <= 8


def test_llama_servers_parse_error_is_one_clear_error(tiny_cfg, tiny_model, tmp_path):
    """Its gpt-oss chat parser on random output: HTTP 500, and mid-stream an untyped error event."""
    with llama_server_at(tiny_cfg, tiny_model, tmp_path / "server.log") as url:
        with pytest.raises(ResponsesError) as e:
            responses(Request(input="Hello", max_output_tokens=8, temperature=0), base_url=url)
        assert e.value.status_code == 500 and "does not match" in e.value.server_message
        seen = []
        with pytest.raises(ResponsesError) as e:
            for ev in responses(Request(input="Hello", max_output_tokens=8, temperature=0), base_url=url,
                                stream=True):
                seen.append(ev)
    assert isinstance(seen[-1], ErrorEvent) and "does not match" in seen[-1].message
    assert "server error in stream" in str(e.value) and "\n" not in str(e.value)
