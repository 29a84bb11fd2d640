"""`harness infer`: the unified runner (the seed's local-infer), raw or Harmony, with or without tools.

    harness infer [--backend gpt-oss|inprocess] [--url URL] [--model-path GGUF] [--raw] [--tools]
                  [--model ID] [--max-tokens N] [--temperature T] [--reasoning-effort low|medium|high]
                  [--workspace DIR] [--record] [--max-turns N] [--unsafe-python] PROMPT...

The final answer streams to stdout; tool activity (calls, results, errors) goes to stderr.
--backend gpt-oss talks to a running server (--url, else $GPT_OSS_URL, else http://localhost:8000):
Harmony prompts go to llama-server's /completion as token ids, --raw text to /v1/completions.
--backend inprocess loads --model-path with llama-cpp-python.
With the python tool, its containment level goes to stderr at start (and into a --record
transcript); where the program's files cannot be contained it refuses to start, one line,
unless --unsafe-python.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from harness.agent.toolbox import TOOL_NAMES

RAW_STOP = (199999, 200002, 200012)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="harness infer", description="Run a prompt on gpt-oss, raw or Harmony, "
                                 "with the local tools (browser, python, apply_patch, ui_pane).")
    ap.add_argument("prompt", nargs="*", help="the prompt (read from stdin when absent)")
    ap.add_argument("--backend", choices=("gpt-oss", "inprocess"), default="gpt-oss")
    ap.add_argument("--url", default=None, help="server base URL (default $GPT_OSS_URL, else http://localhost:8000)")
    ap.add_argument("--model-path", default=None, help="GGUF file for --backend inprocess")
    ap.add_argument("--model", default="gpt-oss", help="model id sent to the server and written to transcripts")
    ap.add_argument("--raw", action="store_true", help="plain completion of the prompt text, no Harmony")
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


def _check(a: argparse.Namespace) -> str | None:
    """A one-line error for bad arguments, or None."""
    if a.backend == "inprocess" and not a.model_path:
        return "--backend inprocess needs --model-path PATH.gguf"
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
    return None


def make_backend(a: argparse.Namespace) -> Any:
    from omegaconf import OmegaConf

    from harness.config.schema import BackendConfig
    if a.backend == "inprocess":
        from harness.backends.inprocess import InProcessBackend
        from harness.models.cache import resolve_repack
        cfg = OmegaConf.structured(BackendConfig(type="inprocess", n_ctx=a.n_ctx, repack=resolve_repack("auto")))
        return InProcessBackend(cfg, Path(a.model_path).expanduser())
    from harness.backends.http import HttpBackend
    cfg = OmegaConf.structured(BackendConfig(type="http_external", url=a.url, model_id=a.model,
                                             endpoint="v1_completions" if a.raw else "completion"))
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
    from harness.agent.tools.python_tool import containment_line
    workspace = Path(a.workspace).expanduser().resolve()
    toolset = make_toolset([t for t in (a.tools or "").split(",") if t], workspace, unsafe_python=a.unsafe_python)
    for tool in toolset.tools:
        if tool.name == "python":
            print(f"[python] {containment_line(tool.sandbox.containment)}", file=sys.stderr, flush=True)
    return toolset


def _harmony(backend: Any, toolset: Any, prompt: str, a: argparse.Namespace) -> int:
    from harness.agent.session import Session
    from harness.agent.transcript import Transcript
    from harness.harmony import HarmonyOptions

    workspace = Path(a.workspace).expanduser().resolve()
    transcript = Transcript(workspace, model=a.model, cwd=Path.cwd()) if a.record else None
    python = next((t for t in toolset.tools if t.name == "python"), None)
    if python is not None and transcript is not None:
        transcript.state("python", {"containment": python.level})

    def on_message(kind: str, msg: Any, info: dict[str, Any]) -> None:
        _activity(kind, msg, info)
        if transcript is not None:
            transcript(kind, msg, info)

    def on_delta(channel: str | None, text: str) -> None:
        if channel == "final":
            sys.stdout.write(text)
            sys.stdout.flush()

    session = Session(backend, toolset, HarmonyOptions(reasoning_effort=a.reasoning_effort),
                      max_turns=a.max_turns, max_tokens=a.max_tokens, temperature=a.temperature,
                      on_message=on_message, on_delta=on_delta)
    try:
        result = session.run(prompt)
    finally:
        if transcript is not None:
            for tool in toolset.tools:
                if tool.state() is not None:
                    transcript.state(tool.name, tool.state())
            transcript.close()
    sys.stdout.write("\n")
    if transcript is not None:
        print(f"[record] {transcript.rlog_path}", file=sys.stderr)
    if result.stop == "error":
        print(f"harness infer: error: {result.error}", file=sys.stderr)
        return 1
    if result.final is None:
        print(f"[end] no final answer after {len(result.turns)} turns ({result.stop})", file=sys.stderr)
    return 0


def main(argv: list[str]) -> int:
    a = parser().parse_args(argv)
    err = _check(a)
    if err:
        print(f"harness infer: error: {err}", file=sys.stderr)
        return 2
    prompt = " ".join(a.prompt) if a.prompt else sys.stdin.read()
    if not prompt.strip():
        print("harness infer: error: empty prompt: give it as arguments or on stdin", file=sys.stderr)
        return 2
    from harness.agent.tools.sandbox import SandboxError
    try:
        toolset = None if a.raw else _toolset(a)
    except SandboxError as exc:  # UncontainedError included: one line, no traceback
        print(f"harness infer: error: {exc}", file=sys.stderr)
        return 2
    from harness.backends.http import HttpBackendError
    backend = make_backend(a)
    try:
        backend.start()
        return _raw(backend, prompt, a) if a.raw else _harmony(backend, toolset, prompt, a)
    except HttpBackendError as exc:
        print(f"harness infer: error: {exc}", file=sys.stderr)
        return 1
    finally:
        backend.stop()
