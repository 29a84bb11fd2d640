"""HTTP backend: a managed llama-server (backend=http) or any server you run (backend=http_external).

Requests stream over SSE and each generated piece becomes a StreamEvent stamped as its chunk
arrives (raw timestamps; metrics/ derives the numbers). Four endpoints:

- completion: llama-server's /completion with the prompt as token ids and the generated ids
  returned per chunk (return_tokens). llama-server holds back a token that ends inside a UTF-8
  character and sends the next chunk with only the completing token's id; those held-back tokens
  (counted by the chunk's tokens_predicted) come out as events with token=None, so the event count
  equals the server's predicted_n.
- v1_completions, v1_chat, v1_responses: OpenAI-compatible, text only (token=None). A prompt
  given as ids is sent as text: the text tokenize() made it from, else the server's /detokenize.
  v1_chat sends that text as one user message (the server applies its chat template on top).
Stop ids are honoured on /completion; the OpenAI endpoints end where the server stops (EOG).
"""
from __future__ import annotations

import collections
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from httpx_sse import EventSource, SSEError

from harness.backends import build_id, sse
from harness.backends.base import StreamEvent, Unsupported
from harness.backends.params import load_mode, physical_cores
from harness.backends.server import ManagedServer, ServerError, ensure_server, memory_columns
from harness.errors import one_line as _one_line

if TYPE_CHECKING:
    from harness.config.schema import BackendConfig

PATHS = {"completion": "/completion", "v1_completions": "/v1/completions", "v1_chat": "/v1/chat/completions",
         "v1_responses": "/v1/responses"}
_TMP_LOGS: list[str] = []


class HttpBackendError(RuntimeError):
    """A request failed: HTTP error, malformed stream, lost connection (one line)."""


class UnsupportedEndpoint(Unsupported):
    """The server has no such endpoint (404/405/501)."""


def external_url(url: str | None) -> str:
    """The server's base URL: url, else $GPT_OSS_URL, else http://localhost:8000 (a trailing /v1 dropped)."""
    base = (url or os.environ.get("GPT_OSS_URL") or "http://localhost:8000").rstrip("/")
    return base[:-3] if base.endswith("/v1") else base


def log_dir() -> Path:
    """The current Hydra run folder, else one temp folder for this process."""
    try:
        from hydra.core.hydra_config import HydraConfig
        if HydraConfig.initialized():
            return Path(HydraConfig.get().runtime.output_dir)
    except Exception:  # no Hydra, or a config without runtime.output_dir
        pass
    if not _TMP_LOGS:
        _TMP_LOGS.append(tempfile.mkdtemp(prefix="harness-llama-server-"))
    return Path(_TMP_LOGS[0])


def error_message(resp: httpx.Response) -> str:
    """The server's error message (OpenAI/llama.cpp JSON, FastAPI detail, or the body's text)."""
    try:
        obj = resp.json()
    except ValueError:
        return _one_line(resp.text)
    if isinstance(obj, dict):
        err = obj.get("error", obj.get("detail", obj.get("message", obj)))
        if isinstance(err, dict):
            err = err.get("message", err)
        return _one_line(err)
    return _one_line(obj)


class HttpBackend:
    """GenerateBackend over HTTP; model_path None means an external server at cfg.url."""

    def __init__(self, cfg: BackendConfig, model_path: Path | None) -> None:
        self.cfg = cfg
        self.model_path = Path(model_path) if model_path is not None else None
        self.name = "http" if self.model_path is not None else "http_external"
        self.url = "" if self.model_path is not None else external_url(cfg.url)
        self.server: ManagedServer | None = None
        self.client = self._client()
        self.last_timings: dict[str, Any] = {}
        self.last_usage: dict[str, Any] = {}
        self._info: dict[str, Any] = {}
        self._texts: collections.OrderedDict[tuple[int, ...], str] = collections.OrderedDict()

    def _client(self) -> httpx.Client:
        t = self.cfg.timeout_s
        # a managed server is on loopback: no proxy from the environment
        return httpx.Client(timeout=httpx.Timeout(t, connect=min(t, 10.0)), trust_env=self.model_path is None)

    def start(self) -> None:
        """Managed: start or reuse llama-server; then read what /props and /v1/models tell."""
        if self.client.is_closed:
            self.client = self._client()
        c, self._info = self.cfg, {}
        if self.model_path is not None:
            mode = load_mode(c)
            self._info.update(n_threads=c.n_threads or physical_cores(), cpu_mask=c.cpu_mask, load_mode=mode,
                              use_mmap=mode in ("mmap", "mmap+mlock"))
            try:
                self.server = ensure_server(c, self.model_path, log_dir())
            except ServerError as e:
                if getattr(e, "log_tail", ""):
                    self._info["server_log_tail"] = e.log_tail
                raise
            self.url = self.server.url
            self._info.update(load_s=self.server.load_s, model_reused=self.server.reused,
                              **memory_columns(self.server))
        self._read_props()

    def _get_json(self, path: str) -> Any:
        try:
            resp = self.client.get(self.url + path)
        except httpx.TransportError as e:
            raise HttpBackendError(self._lost(f"GET {path}", e)) from e
        if resp.status_code != 200:
            return None
        try:
            return resp.json()
        except ValueError:
            return None

    def _read_props(self) -> None:
        props = self._get_json("/props")
        if isinstance(props, dict):
            dgs = props.get("default_generation_settings") or {}
            found = {"server_n_ctx": dgs.get("n_ctx") or props.get("n_ctx"),
                     "server_slots": props.get("total_slots"), "server_model_path": props.get("model_path"),
                     "server_build_info": props.get("build_info")}
            self._info.update({k: v for k, v in found.items() if v is not None})
        self._info.update(self._build_id(props).columns())
        models = self._get_json("/v1/models")
        data = models.get("data") if isinstance(models, dict) else None
        meta = (data[0].get("meta") or {}) if data and isinstance(data[0], dict) else {}
        found = {"model_size": meta.get("size"), "model_n_params": meta.get("n_params")}
        self._info.update({k: v for k, v in found.items() if v is not None})

    def _build_id(self, props: Any) -> build_id.BuildId:
        """The server's llama.cpp: its /props build_info, else the managed binary's --version, else unknown."""
        found = build_id.parse(props.get("build_info")) if isinstance(props, dict) else None
        if found is None and self.server is not None:
            found = build_id.of_binary(self.server.binary)
        return found or build_id.BuildId()

    def info(self) -> dict[str, Any]:
        return dict(self._info)

    def _post(self, path: str, body: dict[str, Any], what: str) -> Any:
        try:
            resp = self.client.post(self.url + path, json=body)
        except httpx.TransportError as e:
            raise HttpBackendError(self._lost(what, e)) from e
        if resp.status_code != 200:
            self._fail(resp, what, path)
        try:
            return resp.json()
        except ValueError as e:
            raise HttpBackendError(
                f"{what}: POST {self.url}{path} answered no JSON: {_one_line(resp.text, 120)}") from e

    def _fail(self, resp: httpx.Response, what: str, path: str) -> None:
        resp.read()
        code, msg = resp.status_code, error_message(resp)
        if code in (405, 501) or (code == 404 and "model" not in msg.lower()):
            raise UnsupportedEndpoint(f"{what}: POST {path} is not supported by the server at {self.url} "
                                      f"(HTTP {code}{': ' + msg if msg else ''})")
        raise HttpBackendError(f"{what}: POST {self.url}{path} failed with HTTP {code}: {msg or 'no message'}")

    def _lost(self, what: str, e: Exception) -> str:
        """One line on a lost connection, with the managed server's state and last log line."""
        msg = f"{what}: connection to {self.url} failed ({type(e).__name__}: {_one_line(e, 200)})"
        srv = self.server
        if srv is not None:
            code = srv.wait_exit(1.0)
            tail = srv.log_tail()
            self._info["server_log_tail"] = tail
            state = f"exited with code {code}" if code is not None else "still running"
            last = _one_line(tail.strip().splitlines()[-1]) if tail.strip() else "no log output"
            msg += f"; llama-server {state}; last log line: {last}"
        return msg

    @property
    def takes_text(self) -> bool:
        """OpenAI-compatible endpoints take the prompt as text (no server-side /tokenize needed)."""
        endpoint: str = self.cfg.endpoint
        return endpoint != "completion"

    def tokenize(self, text: str) -> list[int]:
        """Ids of text via POST /tokenize, special tokens parsed, no BOS added."""
        obj = self._post("/tokenize", {"content": text, "add_special": False, "parse_special": True}, "tokenize")
        try:
            ids = [int(t["id"] if isinstance(t, dict) else t) for t in obj["tokens"]]
        except (KeyError, TypeError, ValueError) as e:
            raise HttpBackendError(
                f"tokenize: unexpected answer from {self.url}/tokenize: {_one_line(obj, 120)}") from e
        self._texts[tuple(ids)] = text
        while len(self._texts) > 256:
            self._texts.popitem(last=False)
        return ids

    def detokenize(self, tokens: Sequence[int]) -> str:
        """Text of ids via POST /detokenize."""
        obj = self._post("/detokenize", {"tokens": list(tokens)}, "detokenize")
        text = obj.get("content", obj.get("prompt")) if isinstance(obj, dict) else None
        if not isinstance(text, str):
            raise HttpBackendError(f"detokenize: unexpected answer from {self.url}/detokenize: {_one_line(obj, 120)}")
        return text

    def _text(self, prompt: Sequence[int] | str) -> str:
        if isinstance(prompt, str):
            return prompt
        key = tuple(int(t) for t in prompt)
        return self._texts[key] if key in self._texts else self.detokenize(key)

    def _body(self, endpoint: str, prompt: Sequence[int] | str, max_tokens: int,
              temperature: float, seed: int, ignore_eos: bool = False,
              cache_prompt: bool | None = None) -> dict[str, Any]:
        """The request body; llama.cpp's own knobs only where the server is llama-server."""
        # the in-process chain: greedy (top_k 1) at temperature 0, else temperature + dist(seed);
        # cache_prompt: reuse the slot's KV for the prompt's common prefix (default off: every request
        # prefills its whole prompt)
        llama: dict[str, Any] = ({"samplers": ["top_k"], "top_k": 1} if temperature <= 0
                                 else {"samplers": ["temperature"]})
        llama["cache_prompt"] = bool(self.cfg.cache_prompt if cache_prompt is None else cache_prompt)
        common = {"stream": True, "temperature": temperature, "seed": seed}
        if endpoint == "completion":
            p = prompt if isinstance(prompt, str) else [int(t) for t in prompt]
            return {"prompt": p, "n_predict": max_tokens, "return_tokens": True, "ignore_eos": ignore_eos,
                    **common, **llama}
        extra = llama if self.model_path is not None else {}
        text, model = self._text(prompt), self.cfg.model_id
        if endpoint == "v1_completions":
            return {"model": model, "prompt": text, "max_tokens": max_tokens,
                    "stream_options": {"include_usage": True}, **common, **extra}
        if endpoint == "v1_chat":
            return {"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": max_tokens,
                    "stream_options": {"include_usage": True}, **common, **extra}
        if endpoint == "v1_responses":
            return {"model": model, "input": text, "max_output_tokens": max_tokens, "stream": True,
                    "temperature": temperature, **extra}
        raise ValueError(f"backend.endpoint={endpoint!r} is not one of {', '.join(PATHS)}")

    def generate(self, prompt: Sequence[int] | str, max_tokens: int, stop: Sequence[int],
                 temperature: float = 0.0, seed: int = 0, ignore_eos: bool = False,
                 cache_prompt: bool | None = None) -> Iterator[StreamEvent]:
        """Stream the completion of prompt; ends after a stop id (completion), the server's end or max_tokens.

        ignore_eos (completion only): generate exactly max_tokens, as llama-bench's tg does.
        cache_prompt: this request's, else backend.cache_prompt (unset: off)."""
        endpoint = self.cfg.endpoint
        if endpoint not in PATHS:
            raise ValueError(f"backend.endpoint={endpoint!r} is not one of {', '.join(PATHS)}")
        self.last_timings, self.last_usage = {}, {}
        body = self._body(endpoint, prompt, max_tokens, temperature, seed, ignore_eos, cache_prompt)
        path, parse, stops = PATHS[endpoint], sse.PARSERS[endpoint], set(stop)
        what = f"endpoint {endpoint}"
        n, stopped, done = 0, False, False
        try:
            with self.client.stream("POST", self.url + path, json=body,
                                    headers={"Accept": "text/event-stream", "Cache-Control": "no-store"}) as resp:
                if resp.status_code != 200:
                    self._fail(resp, what, path)
                for event in EventSource(resp).iter_sse():
                    t_ns = time.perf_counter_ns()
                    if not event.data:
                        continue
                    chunk = parse(event.event, event.data)
                    self.last_timings = chunk.timings or self.last_timings
                    self.last_usage = chunk.usage or self.last_usage
                    if stopped:  # one look past the stop id: the server's final chunk if it stopped too
                        break
                    held = chunk.n_decoded - n - sum(tok is not None for tok, _ in chunk.pieces) \
                        if chunk.n_decoded is not None else 0
                    for _ in range(max(0, held)):
                        n += 1
                        yield StreamEvent(t_ns, None, "")
                    for tok, text in chunk.pieces:
                        n += 1
                        yield StreamEvent(t_ns, tok, text)
                        if tok is not None and tok in stops:
                            stopped = True
                            break
                    if chunk.done:
                        done = True
                        break
        except (sse.StreamError, SSEError) as e:
            raise HttpBackendError(f"{what} at {self.url}: {_one_line(e)}") from e
        except httpx.TransportError as e:
            raise HttpBackendError(self._lost(what, e)) from e
        if not (done or stopped):
            raise HttpBackendError(self._lost(what, ConnectionError("stream ended before the server's last event")))

    def stop(self) -> None:
        """Close the client; a managed server stays up for the next point (server.release_server() ends it)."""
        self.client.close()
