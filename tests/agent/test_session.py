"""The Harmony tool loop end to end on replayed gpt-oss completions: in-process and over real HTTP."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from harness.agent.session import Session
from harness.agent.tools.base import Function, ToolError, Toolset, function
from harness.agent.transcript import Transcript, parse_rlog
from harness.backends.http import HttpBackend
from harness.backends.replay import ReplayBackend, ReplayScripts
from harness.backends.replay_server import ReplayServer
from harness.config.schema import BackendConfig


class Calc:
    """A function tool for the tests: adds numbers and remembers what it was asked."""

    name, builtin, description = "calc", False, ""

    def __init__(self) -> None:
        self.seen: list[tuple[float, float]] = []

    def add(self, a: float, b: float) -> str:
        """Add two numbers.

        Args:
            a: the first number
            b: the second number
        """
        self.seen.append((a, b))
        return json.dumps({"sum": a + b})

    def functions(self) -> list[Function]:
        return [function(self.add, "functions.add")]

    def state(self) -> dict | None:
        return {"calls": len(self.seen)}


class Lookup:
    """A built-in-like tool at `browser.search` (called on the analysis channel, no prefix)."""

    name, builtin, description = "browser", True, "offline lookup"

    def search(self, query: str) -> str:
        """Search.

        Args:
            query: what to look for
        """
        if query == "boom":
            raise ToolError("nothing found for boom")
        return f"[0] {query}: the answer is 40"

    def functions(self) -> list[Function]:
        return [function(self.search, "browser.search")]

    def state(self) -> None:
        return None


PROMPT = "What is the answer plus two?"
SCRIPT = {PROMPT: [
    # built-in tool on the analysis channel, as gpt-oss calls browser
    '<|channel|>analysis<|message|>Look it up.<|end|><|start|>assistant<|channel|>analysis to=browser.search '
    'code<|message|>{"query": "answer"}<|call|>',
    # a function call without the functions. prefix
    '<|channel|>commentary to=add <|constrain|>json<|message|>{"a": 40, "b": 2}<|call|>',
    # a malformed call: arguments that fail the schema; goes back as an error result
    '<|channel|>commentary to=functions.add <|constrain|>json<|message|>{"a": "x"}<|call|>',
    # an unknown tool
    '<|channel|>commentary to=functions.nope <|constrain|>json<|message|>{}<|call|>',
    '<|channel|>final<|message|>The answer plus two is 42.<|return|>',
]}


def _tools() -> tuple[Toolset, Calc]:
    calc = Calc()
    return Toolset([calc, Lookup()]), calc


@pytest.fixture(scope="module")
def scripts() -> ReplayScripts:
    return ReplayScripts(SCRIPT)


def _check(result, calc: Calc, session: Session) -> None:
    assert result.stop == "final" and result.final == "The answer plus two is 42."
    assert len(result.turns) == 5
    calls = result.calls
    assert [c.message.recipient for c in calls] == ["browser.search", "add", "functions.add", "functions.nope"]
    assert [c.result.error for c in calls] == [None, None, "invalid_args", "unknown_tool"]
    assert calc.seen == [(40, 2)]
    assert json.loads(calls[1].result.text) == {"sum": 42}
    # the deviations the model made are counted, and the loop went on
    dev = result.deviations
    assert dev["recipient_without_prefix"] == 1
    # tool answers: author the tool (qualified), to the assistant, on the call's channel
    tool_msgs = [m for m in session.messages if m.author.role.value == "tool"]
    assert [(m.author.name, m.channel, m.recipient) for m in tool_msgs] == [
        ("browser.search", "analysis", "assistant"), ("functions.add", "commentary", "assistant"),
        ("functions.add", "commentary", "assistant"), ("functions.nope", "commentary", "assistant")]
    for turn in result.turns:
        assert turn.prompt_tokens > 0 and turn.completion_tokens > 0 and turn.model_ms >= turn.ttft_ms >= 0
    out = session.outcome(result)
    assert out.final == result.final and out.tool_state == {"calc": {"calls": 1}}
    assert [c.name for c in out.calls] == ["search", "add", "add", "functions.nope"]
    assert out.calls[1].arguments == {"a": 40, "b": 2} and out.calls[2].error == "invalid_args"


def test_loop_in_process_replay(scripts: ReplayScripts) -> None:
    toolset, calc = _tools()
    session = Session(ReplayBackend(scripts), toolset, max_turns=8)
    _check(session.run(PROMPT), calc, session)


def test_loop_over_http_replay(scripts: ReplayScripts) -> None:
    """Real HTTP: the project's HttpBackend against a server streaming llama-server's /completion."""
    toolset, calc = _tools()
    with ReplayServer(scripts) as url:
        cfg = OmegaConf.structured(BackendConfig(type="http_external", url=url, endpoint="completion"))
        backend = HttpBackend(cfg, None)
        backend.start()
        try:
            session = Session(backend, toolset, max_turns=8)
            _check(session.run(PROMPT), calc, session)
        finally:
            backend.stop()


def test_max_turns_ends_the_loop(scripts: ReplayScripts) -> None:
    toolset, _ = _tools()
    result = Session(ReplayBackend(scripts), toolset, max_turns=2).run(PROMPT)
    assert result.stop == "max_turns" and result.final is None and len(result.turns) == 2


def test_tool_error_goes_back_to_the_model() -> None:
    prompt = "find boom"
    scripts = ReplayScripts({prompt: [
        '<|channel|>analysis to=browser.search code<|message|>{"query": "boom"}<|call|>',
        '<|channel|>final<|message|>Nothing.<|return|>']})
    toolset, _ = _tools()
    session = Session(ReplayBackend(scripts), toolset)
    result = session.run(prompt)
    assert result.final == "Nothing."
    assert result.calls[0].result.error == "tool_error" and "nothing found for boom" in result.calls[0].result.text


def test_backend_failure_is_a_harness_error(scripts: ReplayScripts) -> None:
    toolset, _ = _tools()
    result = Session(ReplayBackend(scripts), toolset).run("a prompt with no recording")
    assert result.stop == "error" and "no recorded completions" in result.error


def test_transcript_rlog_and_jsonl(tmp_path: Path, scripts: ReplayScripts) -> None:
    toolset, _ = _tools()
    transcript = Transcript(tmp_path, model="replay")
    session = Session(ReplayBackend(scripts), toolset, on_message=transcript)
    result = session.run(PROMPT)
    transcript.state("calc", toolset.tools[0].state())
    transcript.close()
    assert transcript.rlog_path.parent.parent == tmp_path / "docs" / "logs"
    header, entries = parse_rlog(transcript.rlog_path.read_text())
    assert header["format"] == "rlog/1" and header["model"] == "replay" and header["id"] == transcript.id
    assert {"agent", "cwd", "started"} <= set(header)
    tags = [t for t, _, _ in entries]
    assert tags == ["u", "th", "t!", "t", "t!", "t", "t!", "t", "t!", "t", "a", "st"]
    assert entries[0][1] == PROMPT and entries[-2][1] == result.final
    assert entries[2][1] == 'browser.search {"query": "answer"}'
    assert all(ts.endswith("Z") for _, _, ts in entries)
    records = [json.loads(ln) for ln in transcript.jsonl_path.read_text().splitlines()]
    assert [r["kind"] for r in records].count("tool_result") == 4
    call = next(r for r in records if r["kind"] == "assistant" and r["recipient"] == "add")
    assert call["channel"] == "commentary" and call["tokens"] > 0 and call["completion_tokens"] > 0
    assert "ttft_ms" in call and "model_ms" in call


def test_escaped_newlines_round_trip(tmp_path: Path) -> None:
    prompt = "two\nlines \\ and a backslash"
    scripts = ReplayScripts({prompt: ['<|channel|>final<|message|>line one\nline two<|return|>']})
    transcript = Transcript(tmp_path, model="replay")
    Session(ReplayBackend(scripts), Toolset([]), on_message=transcript).run(prompt)
    transcript.close()
    text = transcript.rlog_path.read_text()
    _, entries = parse_rlog(text)
    assert entries[0][1] == prompt and entries[1][1] == "line one\nline two"
    assert len(text.splitlines()) == 8 + 2  # header (6 keys + 2 rules), one line per message
