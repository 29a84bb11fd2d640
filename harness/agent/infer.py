"""`harness infer`: the unified runner (the seed's local-infer), raw or Harmony, with or without tools.

    harness infer [--backend gpt-oss|inprocess] [--url URL] [--model-path GGUF] [--raw] [--tools]
                  [--endpoint completion|v1_completions|v1_chat|v1_responses] [--model ID] [--max-tokens N]
                  [--temperature T] [--reasoning-effort low|medium|high]
                  [--workspace DIR] [--record] [--max-turns N] [--unsafe-python] PROMPT...

The final answer streams to stdout; tool activity (calls, results, errors) goes to stderr.
--backend gpt-oss talks to a running server (--url, else $GPT_OSS_URL, else http://localhost:8000):
Harmony prompts go to llama-server's /completion as token ids, --raw text to /v1/completions;
--endpoint picks another: v1_chat and v1_responses let the server apply the chat template, and
v1_responses runs --tools as function calls (harness.agent.infer_openai).
--backend inprocess loads --model-path with llama-cpp-python.
Every failure is one line on stderr (`harness infer: error: ...`), exit 2 for what the user can
fix (arguments, URL, a server that refuses or lacks the endpoint: the line says which --endpoint
values the server does answer), 1 otherwise; Ctrl-C exits 130 (cli.py).
With the python tool, its containment level goes to stderr at start (and into a --record
transcript); where the program's files cannot be contained it refuses to start, one line,
unless --unsafe-python.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

from harness.agent.toolbox import TOOL_NAMES
from harness.models.vocab import RAW_STOPS as RAW_STOP

ENDPOINTS = ("completion", "v1_completions", "v1_chat", "v1_responses")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="harness infer", description="Run a prompt on gpt-oss, raw or Harmony, "
                                 "with the local tools (browser, python, apply_patch, ui_pane).")
    ap.add_argument("prompt", nargs="*", help="the prompt (read from stdin when absent)")
    ap.add_argument("--backend", choices=("gpt-oss", "inprocess"), default="gpt-oss")
    ap.add_argument("--url", default=None, help="server base URL (default $GPT_OSS_URL, else http://localhost:8000)")
    ap.add_argument("--model-path", default=None, help="GGUF file for --backend inprocess")
    ap.add_argument("--model", default="gpt-oss", help="model id sent to the server and written to transcripts")
    ap.add_argument("--raw", action="store_true", help="plain completion of the prompt text, no Harmony")
    ap.add_argument("--endpoint", choices=ENDPOINTS, default=None,
                    help="--backend gpt-oss: completion (llama-server's own, Harmony as token ids; the default), "
                         "v1_completions (text, --raw; the default with --raw), v1_chat (/v1/chat/completions, "
                         "no tools), v1_responses (/v1/responses, tools as function calls)")
    ap.add_argument("--tools", nargs="?", const=",".join(TOOL_NAMES), default=None,
                    help=f"enable tools (all, or a comma list of {', '.join(TOOL_NAMES)})")
    ap.add_argument("--max-tokens", type=int, default=1024, help="per completion (per turn)")
    ap.add_argument("--temperature", type=float, default=0.0)
    ap.add_argument("--reasoning-effort", choices=("low", "medium", "high"), default="low")
    ap.add_argument("--workspace", default=".", help="root of apply_patch and of recorded transcripts")
    ap.add_argument("--record", action="store_true", help="write rlog/1 + JSONL under WORKSPACE/docs/logs/YYYYMMDD/")
    ap.add_argument("--max-turns", type=int, default=8)
    ap.add_argument("--n-ctx", type=int, default=8192, help="--backend inprocess: context size")
    ap.add_argument("--unsafe-python", action="store_true",
                    help="run the python tool even where it cannot hide your files from the program")
    return ap


def endpoint_of(a: argparse.Namespace) -> str:
    """The endpoint asked for, else today's default: /v1/completions for --raw, else /completion."""
    return a.endpoint or ("v1_completions" if a.raw else "completion")


def endpoint_problem(endpoint: str, raw: bool, tools: bool) -> str | None:
    """Why endpoint cannot serve these options, or None."""
    if endpoint == "v1_completions" and not raw:
        return ("--endpoint v1_completions completes plain text: add --raw (Harmony goes to completion; "
                "v1_chat and v1_responses let the server apply it)")
    if endpoint == "v1_chat" and tools:
        return ("--endpoint v1_chat does not run --tools: use v1_responses (function calls) "
                "or completion (llama-server, Harmony)")
    return None


def _url_problem(url: str | None) -> str | None:
    import httpx

    from harness.backends.http import external_url
    given = f"--url {url}" if url else "$GPT_OSS_URL"
    try:
        parsed = httpx.URL(external_url(url))
    except (httpx.InvalidURL, TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        return f"{given}: not a server URL; give http(s)://HOST[:PORT], e.g. http://localhost:8000"
    return None


def _check(a: argparse.Namespace) -> str | None:
    """A one-line error for bad arguments, or None."""
    if a.backend == "inprocess" and not a.model_path:
        return "--backend inprocess needs --model-path PATH.gguf"
    if a.backend == "inprocess" and a.endpoint:
        return "--endpoint is for --backend gpt-oss (a server); --backend inprocess runs the model here"
    if a.model_path and not Path(a.model_path).expanduser().is_file():
        return f"--model-path {a.model_path}: no such file"
    if a.raw and a.tools:
        return "--raw and --tools do not go together: tools need Harmony (drop --raw)"
    if a.max_tokens < 1 or a.max_turns < 1:
        return f"--max-tokens {a.max_tokens} --max-turns {a.max_turns}: both must be >= 1"
    if a.temperature < 0:
        return f"--temperature {a.temperature}: must be >= 0"
    if not Path(a.workspace).expanduser().is_dir():
        return f"--workspace {a.workspace}: not a folder"
    tools = [t for t in (a.tools or "").split(",") if t]
    bad = [t for t in tools if t not in TOOL_NAMES]
    if bad:
        return f"--tools {a.tools}: unknown tool {bad[0]!r}; choose from {', '.join(TOOL_NAMES)}"
    if a.backend == "gpt-oss":
        return endpoint_problem(endpoint_of(a), a.raw, bool(tools)) or _url_problem(a.url)
    return None


def make_backend(a: argparse.Namespace) -> Any:
    from omegaconf import OmegaConf

    from harness.config.schema import BackendConfig
    if a.backend == "inprocess":
        from harness.backends.inprocess import InProcessBackend
        from harness.backends.repack import resolve_repack
        cfg = OmegaConf.structured(BackendConfig(type="inprocess", n_ctx=a.n_ctx, repack=resolve_repack("auto")))
        return InProcessBackend(cfg, Path(a.model_path).expanduser())
    from harness.backends.http import HttpBackend
    cfg = OmegaConf.structured(BackendConfig(type="http_external", url=a.url, model_id=a.model,
                                             endpoint=endpoint_of(a)))
    return HttpBackend(cfg, None)


def _raw(backend: Any, prompt: str, a: argparse.Namespace) -> int:
    from harness.models.vocab import harmony_encoding
    enc = harmony_encoding()
    tokens = prompt if getattr(backend, "takes_text", False) else backend.tokenize(prompt)
    ids: list[int] = []
    shown = ""
    for ev in backend.generate(tokens, a.max_tokens, RAW_STOP, a.temperature, 0):
        if ev.token in RAW_STOP:
            break
        if ev.token is None or ev.text:  # a server sent the text
            sys.stdout.write(ev.text)
        else:  # ids only: print what they decode to so far, never half a character
            ids.append(ev.token)
            text = enc.decode(ids)
            if not text.endswith("\ufffd"):
                sys.stdout.write(text[len(shown):])
                shown = text
        sys.stdout.flush()
    sys.stdout.write("\n")
    return 0


def _activity(kind: str, msg: Any, info: dict[str, Any]) -> None:
    """Tool activity on stderr, one line each."""
    from harness.agent.transcript import _fields, escape
    f = _fields(msg)
    if kind == "assistant" and f["recipient"] and f["recipient"] != "assistant":
        print(f"[call] {f['recipient']} {escape(f['content'])[:300]}", file=sys.stderr, flush=True)
    elif kind == "tool_result":
        tag = "error" if info.get("error") else "result"
        print(f"[{tag}] {f['author']} ({info.get('tool_ms', 0):.0f} ms) {escape(f['content'])[:300]}",
              file=sys.stderr, flush=True)


def _toolset(a: argparse.Namespace) -> Any:
    """The tools asked for; the python tool's containment level on stderr (it may refuse: SandboxError)."""
    from harness.agent.toolbox import make_toolset
    from harness.agent.tools.python_tool import PythonTool, containment_line
    workspace = Path(a.workspace).expanduser().resolve()
    toolset = make_toolset([t for t in (a.tools or "").split(",") if t], workspace, unsafe_python=a.unsafe_python)
    for tool in toolset.tools:
        if isinstance(tool, PythonTool):
            print(f"[python] {containment_line(tool.sandbox.containment)}", file=sys.stderr, flush=True)
    return toolset


@contextlib.contextmanager
def _listening(a: argparse.Namespace, toolset: Any) -> Iterator[Callable[[str, Any, dict[str, Any]], None]]:
    """on_message for a session's messages: tool activity to stderr, and with --record to a transcript
    (closed, with the tools' state, on the way out)."""
    from harness.agent.transcript import Transcript
    workspace = Path(a.workspace).expanduser().resolve()
    transcript = Transcript(workspace, model=a.model, cwd=Path.cwd()) if a.record else None
    tools = toolset.tools if toolset is not None else []
    python = next((t for t in tools if t.name == "python"), None)
    if python is not None and transcript is not None:
        transcript.state("python", {"containment": python.level})

    def on_message(kind: str, msg: Any, info: dict[str, Any]) -> None:
        _activity(kind, msg, info)
        if transcript is not None:
            transcript(kind, msg, info)

    try:
        yield on_message
    finally:
        if transcript is not None:
            for tool in tools:
                if tool.state() is not None:
                    transcript.state(tool.name, tool.state())
            transcript.close()
            print(f"[record] {transcript.rlog_path}", file=sys.stderr)


class _Watched:
    """A backend that keeps the exception its generate() raised: Session turns it into a result,
    `harness infer` wants the HTTP error itself (to say it in one line with advice)."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.error: Exception | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)

    def generate(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        try:
            yield from self.backend.generate(*args, **kwargs)
        except Exception as exc:
            self.error = exc
            raise


def _harmony(backend: Any, toolset: Any, prompt: str, a: argparse.Namespace) -> int:
    from harness.agent.session import Session
    from harness.backends.base import Unsupported
    from harness.backends.http import HttpBackendError
    from harness.harmony import HarmonyOptions

    def on_delta(channel: str | None, text: str) -> None:
        if channel == "final":
            sys.stdout.write(text)
            sys.stdout.flush()

    watched = _Watched(backend)
    with _listening(a, toolset) as on_message:
        session = Session(watched, toolset, HarmonyOptions(reasoning_effort=a.reasoning_effort),
                          max_turns=a.max_turns, max_tokens=a.max_tokens, temperature=a.temperature,
                          on_message=on_message, on_delta=on_delta)
        result = session.run(prompt)
    sys.stdout.write("\n")
    if result.stop == "error":
        if isinstance(watched.error, (HttpBackendError, Unsupported)):
            raise watched.error
        print(f"harness infer: error: {result.error}", file=sys.stderr)
        return 1
    if result.final is None:
        print(f"[end] no final answer after {len(result.turns)} turns ({result.stop})", file=sys.stderr)
    return 0


def _advice(url: str, endpoint: str, a: argparse.Namespace) -> str:
    """Which --endpoint values to try on a server that lacks `endpoint`."""
    from harness.agent.infer_openai import answering
    has = answering(url, skip=endpoint)
    tools = bool(a.tools)
    fit = [e for e in has if endpoint_problem(e, a.raw, tools) is None]
    if fit:
        return f"the server answers {', '.join(fit)}: try " + " or ".join(f"--endpoint {e}" for e in fit)
    if has:
        return (f"the server answers only {', '.join(has)}: "
                + "; ".join(str(endpoint_problem(e, a.raw, tools)) for e in has))
    return (f"it answers none of --endpoint {', '.join(e for e in ENDPOINTS if e != endpoint)} either: "
            "is --url the server's base URL?")


def _error(msg: str, code: int = 2) -> int:
    print(f"harness infer: error: {msg}", file=sys.stderr)
    return code


def _parse(argv: list[str]) -> argparse.Namespace | int:
    """The arguments, or the exit code argparse wanted (a usage error said in one line: 2)."""
    ap = parser()

    def one_line(msg: str) -> NoReturn:
        raise SystemExit(_error(f"{msg}; see `harness infer --help`"))
    ap.error = one_line  # type: ignore[method-assign,assignment]
    try:
        return ap.parse_args(argv)
    except SystemExit as exc:
        return 2 if exc.code else 0


def _run(a: argparse.Namespace, prompt: str, toolset: Any) -> int:
    """The prompt on the backend and endpoint asked for."""
    from harness.backends.http import external_url
    endpoint = endpoint_of(a)
    if a.backend == "gpt-oss" and endpoint in ("v1_chat", "v1_responses"):
        from harness.agent import infer_openai
        with _listening(a, toolset) as on_message:
            if endpoint == "v1_chat":
                return infer_openai.chat(external_url(a.url), prompt, a, on_message)
            return infer_openai.respond(external_url(a.url), prompt, toolset, a, on_message)
    backend = make_backend(a)
    try:
        backend.start()
        return _raw(backend, prompt, a) if a.raw else _harmony(backend, toolset, prompt, a)
    finally:
        backend.stop()


def main(argv: list[str]) -> int:
    a = _parse(argv)
    if isinstance(a, int):
        return a
    err = _check(a)
    if err:
        return _error(err)
    prompt = " ".join(a.prompt) if a.prompt else sys.stdin.read()
    if not prompt.strip():
        return _error("empty prompt: give it as arguments or on stdin")
    from harness.agent.tools.sandbox import SandboxError
    try:
        toolset = None if a.raw else _toolset(a)
    except SandboxError as exc:  # UncontainedError included: one line, no traceback
        return _error(str(exc))
    from harness.backends.http import HttpBackendError, UnsupportedEndpoint, external_url
    try:
        return _run(a, prompt, toolset)
    except UnsupportedEndpoint as exc:
        return _error(f"{exc}; {_advice(external_url(a.url), endpoint_of(a), a)}")
    except HttpBackendError as exc:  # refused connection, HTTP error, broken stream: the server's side
        return _error(str(exc))
    except Exception as exc:  # anything else: still one line, exit 1
        return _error(f"{type(exc).__name__}: {' '.join(str(exc).split())[:600]}", 1)
