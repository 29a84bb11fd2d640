"""A loopback HTTP server that replays recorded completions on llama-server's API.

Serves POST /completion (token ids in, SSE chunks of one token each out, as llama-server streams
with return_tokens), POST /tokenize, GET /health and GET /props, so the project's HttpBackend
talks to it exactly as to llama-server: the agent loop runs over real HTTP with no model.
Listens on 127.0.0.1 on a free port; `with ReplayServer(scripts) as url:` starts and stops it.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, cast

from harness.backends.replay import ReplayMiss, ReplayScripts, stream
from harness.models.vocab import ASSISTANT_STOPS

if TYPE_CHECKING:
    from harness.backends.base import StreamEvent
    from harness.backends.http import HttpBackend
    from harness.config.schema import BackendConfig


def _handler(scripts: ReplayScripts) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _json(self, code: int, obj: Any) -> None:
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> dict[str, Any]:
            n = int(self.headers.get("Content-Length") or 0)
            body: dict[str, Any] = json.loads(self.rfile.read(n) or b"{}")
            return body

        def do_GET(self) -> None:
            if self.path == "/health":
                self._json(200, {"status": "ok"})
            elif self.path == "/props":
                self._json(200, {"model_path": "replay", "total_slots": 1, "build_info": "replay"})
            else:
                self._json(404, {"error": {"code": 404, "message": f"no {self.path} on the replay server"}})

        def do_POST(self) -> None:
            try:
                req = self._body()
            except ValueError as exc:
                return self._json(400, {"error": {"code": 400, "message": f"bad JSON: {exc}"}})
            if self.path == "/tokenize":
                return self._json(200, {"tokens": scripts.encoding.encode(str(req.get("content", "")),
                                                                          allowed_special="all")})
            if self.path != "/completion":
                return self._json(404, {"error": {"code": 404, "message": f"no {self.path} on the replay server"}})
            prompt = req.get("prompt")
            if not isinstance(prompt, list):
                return self._json(400, {"error": {"code": 400, "message": "prompt must be a list of token ids"}})
            try:
                tokens = scripts.lookup(prompt)
            except ReplayMiss as exc:
                return self._json(404, {"error": {"code": 404, "message": str(exc)}})
            stops = [int(t) for t in req.get("stop_ids", [])] or list(ASSISTANT_STOPS)
            out = list(stream(tokens, int(req.get("n_predict", 1 << 30)), stops))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            for i, tok in enumerate(out):
                chunk = {"content": scripts.encoding.decode([tok]), "tokens": [tok], "stop": False,
                         "tokens_predicted": i + 1}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
            last = {"content": "", "tokens": [], "stop": True, "tokens_predicted": len(out),
                    "timings": {"prompt_n": len(prompt), "predicted_n": len(out)}}
            self.wfile.write(f"data: {json.dumps(last)}\n\n".encode())
            self.wfile.flush()
            self.close_connection = True

    return Handler


class ReplayServer:
    """Start with `start()` (returns the base URL) or as a context manager; `stop()` ends it."""

    def __init__(self, scripts: ReplayScripts) -> None:
        self.scripts = scripts
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def start(self) -> str:
        if self._server is None:
            self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.scripts))
            self._server.daemon_threads = True
            self._thread = threading.Thread(target=self._server.serve_forever, name="replay-server", daemon=True)
            self._thread.start()
            self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            if self._thread is not None:
                self._thread.join(timeout=5)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class ReplayHttpBackend:
    """backend=replay_http: the replay server on loopback, spoken to by the project's HttpBackend."""

    name = "replay_http"

    def __init__(self, cfg: BackendConfig, scripts: ReplayScripts) -> None:
        self.cfg, self.server = cfg, ReplayServer(scripts)
        self.http: HttpBackend | None = None

    def start(self) -> None:
        from omegaconf import OmegaConf

        from harness.backends.http import HttpBackend
        url = self.server.start()
        cfg = OmegaConf.merge(self.cfg, {"type": "http_external", "url": url, "endpoint": "completion"})
        self.http = HttpBackend(cast("BackendConfig", cfg), None)  # the merge of a backend config is one
        self.http.start()

    def info(self) -> dict[str, Any]:
        return {**(self.http.info() if self.http else {}), "model_type": "replay", "n_threads": 0}

    def _client(self) -> HttpBackend:
        if self.http is None:
            raise RuntimeError("replay_http: start() first")
        return self.http

    def tokenize(self, text: str) -> list[int]:
        return self._client().tokenize(text)

    def generate(self, prompt: Sequence[int] | str, max_tokens: int, stop: Sequence[int], temperature: float = 0.0,
                 seed: int = 0) -> Iterator[StreamEvent]:
        return self._client().generate(prompt, max_tokens, stop, temperature, seed)

    def stop(self) -> None:
        if self.http is not None:
            self.http.stop()
        self.server.stop()
