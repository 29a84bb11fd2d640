"""HttpBackend on a real managed llama-server (synthetic-tiny): every endpoint streams, faults are clear.

One server serves the module (HttpBackends of the same server args reuse it); tests that kill or
replace it leave the next start() to bring a fresh one. Nothing is left running at the end.
"""
from __future__ import annotations

import os
import signal

import psutil
import pytest

from harness.backends import http as httpmod
from harness.backends import sse
from harness.backends.http import HttpBackend, HttpBackendError, UnsupportedEndpoint
from harness.backends.server import ServerError, current_server, release_server, resolve_binary

BASE = ("workload=chat", "backend=http", "backend.n_ctx=512", "backend.n_batch=64", "backend.n_ubatch=64",
        "backend.n_threads=1")  # one thread: the machine runs benchmarks too
STOP = (199999, 200002, 200012)  # <|endoftext|>, <|return|>, <|call|>
HARMONY = "<|start|>user<|message|>Hello, world: 2+2?<|end|><|start|>assistant"


def _servers() -> list[psutil.Process]:
    out = []
    for p in psutil.Process().children(recursive=True):
        try:
            if "llama-server" in p.name():
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.fixture(scope="module")
def make(tiny_cfg, tiny_model, tmp_path_factory):
    """make(endpoint, *overrides) -> a started HttpBackend on the module's managed server."""
    try:
        resolve_binary(tiny_cfg(*BASE).backend)
    except ServerError as e:
        pytest.skip(str(e))
    made: list[HttpBackend] = []
    logs = tmp_path_factory.mktemp("server-logs")
    patch = pytest.MonkeyPatch()
    patch.setattr(httpmod, "log_dir", lambda: logs)  # no Hydra run folder here: the logs go to pytest's tmp

    def _make(endpoint: str = "completion", *overrides: str) -> HttpBackend:
        b = HttpBackend(tiny_cfg(*BASE, f"backend.endpoint={endpoint}", *overrides).backend, tiny_model)
        made.append(b)
        b.start()
        return b
    yield _make
    for b in made:
        b.stop()
    patch.undo()
    release_server()
    assert not _servers(), "a llama-server is still running"


def _check_times(events) -> None:
    times = [e.t_ns for e in events]
    assert times == sorted(times)


def test_completion_streams_token_ids_counted_like_the_server(make):
    b = make()
    prompt = b.tokenize(HARMONY)
    events = list(b.generate(prompt, 24, STOP))
    assert events and b.last_timings["predicted_n"] == len(events)
    assert b.last_timings["prompt_n"] == len(prompt) and b.last_timings["cache_n"] == 0
    assert any(e.token is not None for e in events)
    _check_times(events)
    again = list(b.generate(prompt, 24, STOP))  # temperature 0: greedy, the same ids; no prompt cache
    assert [e.token for e in again] == [e.token for e in events] and b.last_timings["cache_n"] == 0


def test_completion_stops_after_a_stop_id(make):
    b = make()
    prompt = b.tokenize(HARMONY)
    full = [e.token for e in b.generate(prompt, 24, STOP)]
    first = next(t for t in full if t is not None)
    cut = list(b.generate(prompt, 24, [first]))
    assert [e.token for e in cut] == full[:full.index(first) + 1]
    assert len(list(b.generate(prompt, 3, STOP))) <= 3 + 3  # max_tokens (a UTF-8 tail may add a few)


def test_info_has_the_row_columns(make):
    b = make()
    info = b.info()
    assert b.name == "http" and info["server_n_ctx"] == 512 and info["server_slots"] == 1
    assert info["model_size"] > 0 and info["model_n_params"] > 0
    assert info["load_s"] > 0 and isinstance(info["model_reused"], bool) and info["n_threads"] >= 1
    assert info["load_mode"] == "mmap" and info["use_mmap"] is True and "server_log_tail" not in info
    assert make().info()["model_reused"] is True


def test_v1_completions_streams_text(make):
    b = make("v1_completions")
    events = list(b.generate(b.tokenize("Hello, world"), 16, STOP))
    assert events and all(e.token is None and e.text for e in events)
    _check_times(events)
    assert b.last_usage["completion_tokens"] == b.last_timings["predicted_n"] >= len(events) // 4


def test_chat_endpoints_report_the_servers_parse_error(make):
    """Random weights do not write Harmony: the server's gpt-oss chat parser fails mid-stream."""
    b = make("v1_chat")
    with pytest.raises(HttpBackendError) as e:
        list(b.generate("Hello, world", 16, STOP))
    assert "server error in stream" in str(e.value) and "\n" not in str(e.value)


@pytest.fixture
def pure_content(monkeypatch):
    """Servers started now use llama-server's pure content parser (its env; a new server, not reused)."""
    monkeypatch.setenv("LLAMA_ARG_SKIP_CHAT_PARSING", "1")


def test_v1_chat_streams_text(make, pure_content):
    b = make("v1_chat")
    assert not b.info()["model_reused"]  # the environment is part of what decides reuse
    events = list(b.generate(b.tokenize("Hello, world"), 16, STOP))  # ids: sent as the text they came from
    assert events and all(e.token is None and e.text for e in events)  # the role-only chunk is not a token
    _check_times(events)
    assert b.last_usage["completion_tokens"] == b.last_timings["predicted_n"]


def test_v1_responses_streams_or_is_unsupported(make, pure_content):
    b = make("v1_responses")
    try:
        events = list(b.generate("Hello, world", 16, STOP))
    except UnsupportedEndpoint as e:
        assert "/v1/responses" in str(e) and "\n" not in str(e)
        return
    assert events and all(e.token is None and e.text for e in events)
    _check_times(events)
    assert b.last_usage["output_tokens"] == b.last_timings["predicted_n"]


def test_tokenize_parses_harmony_special_tokens_like_llama_cpp(make, tiny_model):
    from llama_cpp import Llama
    vocab = Llama(str(tiny_model), vocab_only=True, verbose=False)
    ids = make().tokenize(HARMONY)
    assert ids == vocab.tokenize(HARMONY.encode(), add_bos=False, special=True)
    assert ids[0] == 200006 and 200008 in ids  # <|start|>, <|message|> as single tokens


def test_external_server_reads_props_and_streams(make, tiny_cfg):
    url = make().url
    ext = HttpBackend(tiny_cfg("backend=http_external", f"backend.url={url}/v1").backend, None)
    ext.start()
    try:
        assert ext.name == "http_external" and ext.url == url and ext.info()["server_n_ctx"] == 512
        assert "load_s" not in ext.info()
        assert list(ext.generate("Hello", 4, STOP))
    finally:
        ext.stop()


def test_external_server_unreachable(tiny_cfg):
    ext = HttpBackend(tiny_cfg("backend=http_external", "backend.url=http://127.0.0.1:9").backend, None)
    with pytest.raises(HttpBackendError, match=r"connection to http://127.0.0.1:9 failed"):
        ext.start()


def test_prompt_larger_than_the_context_is_the_servers_message(make):
    b = make()
    with pytest.raises(HttpBackendError) as e:
        list(b.generate([13] * 600, 8, STOP))
    msg = str(e.value)
    assert "\n" not in msg and "HTTP 400" in msg and "context" in msg.lower(), msg


def test_missing_endpoint_is_unsupported(make, monkeypatch):
    b = make("v1_responses")
    monkeypatch.setitem(httpmod.PATHS, "v1_responses", "/v1/no-such-endpoint")
    with pytest.raises(UnsupportedEndpoint) as e:
        list(b.generate("Hello", 4, STOP))
    assert "/v1/no-such-endpoint" in str(e.value) and "\n" not in str(e.value)
    assert isinstance(e.value, ValueError)


def test_malformed_or_error_events_are_errors():
    with pytest.raises(sse.StreamError, match="malformed"):
        sse.completion("", "{not json")
    with pytest.raises(sse.StreamError, match="server error in stream: boom"):
        sse.v1_chat("", '{"error": {"code": 500, "message": "boom"}}')
    assert sse.v1_chat("", '{"choices": [{"delta": {"role": "assistant", "content": null}}]}').pieces == []
    assert sse.v1_chat("", '{"choices": [{"delta": {"reasoning_content": "hm"}}]}').pieces == [(None, "hm")]


def test_missing_binary_fails_start_in_one_line(tiny_cfg, tiny_model):
    b = HttpBackend(tiny_cfg(*BASE, "backend.server_binary=/nonexistent").backend, tiny_model)
    with pytest.raises(ServerError) as e:
        b.start()
    assert "\n" not in str(e.value) and "/nonexistent" in str(e.value)


def test_not_a_gguf_fails_start_with_the_log_tail(make, tiny_cfg, tmp_path):
    bad = tmp_path / "garbage.gguf"
    bad.write_bytes(b"not a gguf at all" * 64)
    b = HttpBackend(tiny_cfg(*BASE).backend, bad)
    with pytest.raises(ServerError) as e:
        b.start()
    assert "\n" not in str(e.value) and str(bad) in str(e.value)
    assert b.info()["server_log_tail"] and not _servers()


def test_server_killed_mid_stream(make):
    b = make("completion", "backend.n_ctx=2048")  # a server of its own (other args): this test kills it
    pid = current_server().pid
    stream = b.generate(b.tokenize(HARMONY), 1500, [])
    next(stream)
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(HttpBackendError) as e:
        for _ in stream:
            pass
    msg = str(e.value)
    assert "\n" not in msg and "exited with code -9" in msg and "connection" in msg, msg
    assert b.info()["server_log_tail"] and not psutil.pid_exists(pid)
    assert make().tokenize("ok")  # the next start() brings a fresh server


@pytest.mark.parametrize("stop, eog", [(200002, True), (200012, True), (199999, True), (200007, False)])
def test_server_stops_by_itself_on_harmony_stops(make, stop, eog):
    """<|return|>, <|call|>, <|endoftext|> are llama.cpp EOG tokens for gpt-oss; <|end|> is not."""
    b = make()
    r = b.client.post(b.url + "/completion", json={"prompt": [200006, 1428], "n_predict": 3, "return_tokens": True,
                                                   "logit_bias": [[stop, 100.0]], "samplers": ["top_k"], "top_k": 1})
    assert r.json()["tokens"] == ([stop] if eog else [stop] * 3)
    assert r.json()["stop_type"] == ("eos" if eog else "limit")


def test_cache_prompt_per_request_or_from_the_config_reuses_the_prompt(make):
    b = make()
    prompt = b.tokenize(HARMONY)
    list(b.generate(prompt, 4, STOP, cache_prompt=True))
    list(b.generate(prompt, 4, STOP, cache_prompt=True))  # the same prompt: reused up to a checkpoint (SWA)
    cached = sse.cached_tokens(b.last_timings, b.last_usage)
    assert cached == b.last_timings["cache_n"] and 0 < cached < len(prompt)
    assert b.last_timings["prompt_n"] == len(prompt) - cached
    list(b.generate(prompt, 4, STOP))  # backend.cache_prompt unset: off
    assert sse.cached_tokens(b.last_timings, b.last_usage) == 0
    on = make("completion", "backend.cache_prompt=true")
    list(on.generate(prompt, 4, STOP))
    list(on.generate(prompt, 4, STOP))
    assert on.last_timings["cache_n"] == cached


def test_cached_tokens_from_llama_server_timings_or_openai_usage():
    assert sse.cached_tokens({"cache_n": 7}, {}) == 7
    assert sse.cached_tokens({}, {"prompt_tokens_details": {"cached_tokens": 5}}) == 5  # chat, completions
    assert sse.cached_tokens({}, {"input_tokens_details": {"cached_tokens": 3}}) == 3  # responses
    assert sse.cached_tokens({}, {"prompt_tokens": 9}) is None  # the server does not say
