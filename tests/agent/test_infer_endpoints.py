"""`harness infer --endpoint` against OpenAI-style servers, run as a user runs it: small fake servers
on 127.0.0.1 (a Responses-only one as OpenAI's gpt-oss reference server, a chat-only one), 404
everywhere else; every failure one line on stderr, never a traceback.

Every server listens on a free port and is stopped by the test that started it.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from cli_runner import ROOT, ctrl_c_reaches_it, harness
from loopback import QuietHandler, loopback

ANSWER = "Paris is the capital of France."
CALL = {"id": "fc_1", "type": "function_call", "status": "completed", "call_id": "call_1", "name": "ui_pane",
        "arguments": json.dumps({"action": "create", "title": "Notes", "pane_id": "p1"})}
Reply = tuple[int, Any]  # (status, JSON object) or (200, [SSE events])


def _message(text: str) -> dict[str, Any]:
    return {"id": "msg_1", "type": "message", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}


def _response(output: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": "resp_1", "object": "response", "status": "completed", "model": "gpt-oss-120b",
            "output": output, "store": False, "usage": {"input_tokens": 9, "output_tokens": 7, "total_tokens": 16}}


def _events(resp: dict[str, Any]) -> list[dict[str, Any]]:
    """The stream of resp as the reference server sends it: created, reasoning, text deltas, completed."""
    text = resp["output"][0]["content"][0]["text"]
    at = {"item_id": "msg_1", "output_index": 1, "content_index": 0}
    return [{"type": "response.created", "response": {**resp, "status": "in_progress", "output": []}},
            {"type": "response.reasoning_text.delta", "item_id": "rs_1", "output_index": 0, "delta": "Think."},
            {"type": "response.output_item.added", "output_index": 1, "item": {**resp["output"][0], "content": []}},
            *[{"type": "response.output_text.delta", **at, "delta": text[i:i + 6]} for i in range(0, len(text), 6)],
            {"type": "response.completed", "response": resp}]


def responses_only(body: dict[str, Any]) -> Reply:
    """/v1/responses: a function call first when tools are offered, a message once its output is back."""
    if "input" not in body:
        return 422, {"detail": [{"type": "missing", "loc": ["body", "input"], "msg": "Field required"}]}
    items = body["input"] if isinstance(body["input"], list) else []
    answered = any(it.get("type") == "function_call_output" for it in items)
    resp = _response([CALL] if body.get("tools") and not answered else [_message(ANSWER)])
    return (200, _events(resp)) if body.get("stream") else (200, resp)


def chat_only(body: dict[str, Any]) -> Reply:
    """/v1/chat/completions as llama-server streams gpt-oss: reasoning apart, then the content."""
    if "messages" not in body:
        return 400, {"error": {"code": 400, "message": "'messages' is required", "type": "invalid_request_error"}}
    deltas = [{"role": "assistant", "content": None}, {"reasoning_content": "The user asks."},
              {"content": "Paris is "}, {"content": "the capital of France."}]
    chunks = [{"choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    return 200, [*chunks, "[DONE]"]


class Fake:
    """A loopback server: POST to a path in `routes` gets route(body); anything else 404 (FastAPI's)."""

    def __init__(self, routes: dict[str, Callable[[dict[str, Any]], Reply]]) -> None:
        self.routes = routes
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.url = ""

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                self._send(404, "application/json", b'{"detail": "Not Found"}')

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                fake.requests.append((self.path, body))
                route = fake.routes.get(self.path)
                if route is None:
                    return self._send(404, "application/json", b'{"detail": "Not Found"}')
                code, obj = route(body)
                if isinstance(obj, list):
                    data = "".join(f"data: {ev if isinstance(ev, str) else json.dumps(ev)}\n\n" for ev in obj)
                    return self._send(code, "text/event-stream", data.encode())
                self._send(code, "application/json", json.dumps(obj).encode())

        return Handler


@contextlib.contextmanager
def serving(fake: Fake) -> Iterator[Fake]:
    with loopback(fake.handler()) as url:
        fake.url = url
        yield fake


def _one_line_error(r: subprocess.CompletedProcess, code: int = 2) -> str:
    assert r.returncode == code, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("harness infer: error: "), r.stderr
    return lines[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- a server with only /v1/responses --------------------------------------------------------------

def test_default_endpoints_on_a_responses_server_fail_in_one_line_naming_v1_responses():
    with serving(Fake({"/v1/responses": responses_only})) as srv:
        for args in (["--raw"], []):  # today's defaults: /v1/completions, /completion
            r = harness("infer", *args, "--url", srv.url, "Capital of France?", timeout=60)
            line = _one_line_error(r)
            assert "is not supported by the server" in line and "HTTP 404" in line, line
            assert "try --endpoint v1_responses" in line, line


def test_v1_responses_streams_the_answer():
    with serving(Fake({"/v1/responses": responses_only})) as srv:
        r = harness("infer", "--raw", "--endpoint", "v1_responses", "--url", srv.url + "/v1",
                    "--max-tokens", "64", "--reasoning-effort", "high", "Capital of France?", timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ANSWER + "\n" and r.stderr == ""
    (path, body), = srv.requests
    assert path == "/v1/responses" and body["input"] == "Capital of France?" and body["stream"] is True
    assert body["max_output_tokens"] == 64 and body["reasoning"] == {"effort": "high"} and "tools" not in body


def test_tools_through_v1_responses_round_trip(tmp_path: Path):
    with serving(Fake({"/v1/responses": responses_only})) as srv:
        r = harness("infer", "--endpoint", "v1_responses", "--tools", "ui_pane", "--record",
                    "--workspace", str(tmp_path), "--url", srv.url, "Open a pane called Notes.", timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ANSWER + "\n"
    assert "[call] functions.ui_pane" in r.stderr and "[result] functions.ui_pane" in r.stderr, r.stderr
    first, second = (body for _, body in srv.requests)
    tool, = first["tools"]
    assert tool["type"] == "function" and tool["name"] == "ui_pane"
    assert tool["parameters"]["type"] == "object" and "action" in tool["parameters"]["properties"]
    outputs = [it for it in second["input"] if it.get("type") == "function_call_output"]
    assert [o["call_id"] for o in outputs] == ["call_1"]
    assert json.loads(outputs[0]["output"])["pane"]["id"] == "p1"  # ui_pane ran here and answered
    assert {"type": "function_call", "call_id": "call_1"}.items() <= next(
        it for it in second["input"] if it.get("type") == "function_call").items()
    rlog, = (tmp_path / "docs" / "logs").glob("*/*.rlog")
    tags = [ln.split(":", 1)[0] for ln in rlog.read_text().split("---\n")[-1].splitlines()]
    assert tags == ["u", "t!", "t", "a", "st"], tags


def test_tools_become_function_tools_freeform_ones_with_one_string_parameter():
    from harness.agent.infer_openai import function_tools
    from harness.agent.toolbox import make_toolset
    defs, calls, notes = function_tools(make_toolset(["ui_pane", "apply_patch", "browser"], ROOT), lambda *a: None)
    names = [d["name"] for d in defs]
    assert names == ["ui_pane", "apply_patch", "browser_search", "browser_open", "browser_find"]
    patch = defs[1]["parameters"]
    assert patch["type"] == "object" and list(patch["properties"]) == patch["required"] and len(patch["required"]) == 1
    assert notes and "apply_patch" in notes and "# browser" in notes
    assert calls["ui_pane"](action="focus", pane_id="nope").startswith("Error:")  # for the model, not raised
    assert calls["ui_pane"](action="explode").startswith("Error:")  # schema-checked


# ---- a chat-only server -------------------------------------------------------------------------------

def test_v1_chat_streams_the_content_only():
    with serving(Fake({"/v1/chat/completions": chat_only})) as srv:
        r = harness("infer", "--endpoint", "v1_chat", "--url", srv.url, "--model", "gpt-oss-20b",
                    "Capital of France?", timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout == ANSWER + "\n" and r.stderr == ""
        (path, body), = srv.requests
        assert path == "/v1/chat/completions" and body["model"] == "gpt-oss-20b" and body["stream"] is True
        assert body["messages"] == [{"role": "user", "content": "Capital of France?"}]
        r = harness("infer", "--endpoint", "v1_responses", "--url", srv.url, "hi", timeout=60)
        assert "try --endpoint v1_chat" in _one_line_error(r)
        r = harness("infer", "--endpoint", "v1_responses", "--tools", "ui_pane", "--url", srv.url, "hi", timeout=60)
        line = _one_line_error(r)
        assert "answers only v1_chat" in line and "does not run --tools" in line, line


# ---- failures: one line each ---------------------------------------------------------------------------

def test_connection_refused_is_one_line_for_every_endpoint():
    url = f"http://127.0.0.1:{_free_port()}"
    for args in (["--raw"], ["--endpoint", "v1_responses"], ["--endpoint", "v1_chat"], ["--endpoint", "completion"]):
        line = _one_line_error(harness("infer", *args, "--url", url, "hi", timeout=60))
        assert url.split("//")[1] in line and "Connect" in line, line


def test_http_errors_bad_urls_and_bad_options_are_one_line():
    def broken(body: dict[str, Any]) -> Reply:
        return 500, {"error": {"message": "model crashed", "type": "server_error"}}
    with serving(Fake({"/v1/responses": broken, "/v1/chat/completions": broken})) as srv:
        for endpoint in ("v1_responses", "v1_chat"):
            line = _one_line_error(harness("infer", "--endpoint", endpoint, "--url", srv.url, "hi", timeout=60))
            assert "HTTP 500" in line and "model crashed" in line, line
    cases = [(["--url", "localhost:8000"], "not a server URL"), (["--url", "ftp://host/"], "not a server URL"),
             (["--endpoint", "v1_completions"], "add --raw"), (["--endpoint", "v1_chat", "--tools", "ui_pane"], "v1_responses"),
             (["--endpoint", "grpc"], "invalid choice"), (["--backend", "inprocess", "--model-path", __file__,
                                                           "--endpoint", "v1_chat"], "--endpoint is for")]
    for args, expected in cases:
        assert expected in _one_line_error(harness("infer", *args, "hi", timeout=60)), args


def test_ctrl_c_exits_130_without_a_traceback():
    started, release = threading.Event(), threading.Event()

    def hang(body: dict[str, Any]) -> Reply:
        started.set()
        release.wait(30)
        return 200, _response([_message(ANSWER)])
    with serving(Fake({"/v1/responses": hang})) as srv:
        exe = Path(sys.executable).with_name("harness")
        proc = subprocess.Popen([str(exe), "infer", "--endpoint", "v1_responses", "--url", srv.url, "hi"],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=os.environ.copy(), preexec_fn=ctrl_c_reaches_it)
        try:
            assert started.wait(60), "harness infer never reached the server"
            time.sleep(0.2)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
        finally:
            release.set()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err, err
