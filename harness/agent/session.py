"""The Harmony tool loop: render, generate on any backend, parse, run the tools, repeat.

A Session holds one conversation. `run(prompt)` appends the user message, then each turn renders
the history (system + developer with the function tools + the messages) as Harmony token ids,
streams a completion from the backend (the Turn keeps its raw timestamps; metrics/ derives from
them), parses it with the forgiving StreamParser (deviations counted, never raised) and appends
the assistant's messages. A message addressed to a tool is a call: the Toolset routes
`functions.<name>`, a bare `<name>`, `browser.*` and `python`; the result goes back as a tool
message (author the tool, recipient assistant, the call's channel). The loop ends at a
final-channel message or after `max_turns`; a malformed call becomes an error result for the model
and is counted.
"""
from __future__ import annotations

import collections
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openai_harmony import Author, Message, Role

from harness.agent.outcome import Call, Outcome
from harness.agent.tools.base import ToolResult, Toolset
from harness.backends.base import GenerateBackend, ServedBackend
from harness.backends.sse import cached_tokens
from harness.harmony import STOP_TOKENS, HarmonyOptions, ParsedMessage, StreamParser, TokenEvent, render_prompt, user

FINAL = "final"


@dataclass
class ToolCall:
    """One call of a turn: what the model addressed, what came back, how long it took."""

    message: ParsedMessage
    result: ToolResult
    tool_ms: float

    def as_call(self, toolset: Toolset) -> Call:
        func = toolset.resolve(self.message.recipient or "")
        args: Any = self.message.content
        if func is not None and not func.freeform:
            try:
                args = json.loads(self.message.content)
            except ValueError:
                args = None
        return Call(recipient=self.message.recipient or "", name=func.name if func else self.message.recipient or "",
                    arguments=args, channel=self.message.channel, error=self.result.error)


MS = 1e-6


@dataclass
class Turn:
    """One completion and what followed it: tokens, the stream's raw timestamps, messages, calls."""

    index: int
    prompt_tokens: int
    completion_tokens: int
    t_start_ns: int             # perf_counter_ns: the request sent
    token_ns: list[int]         # each streamed event's arrival (StreamEvent.t_ns)
    t_end_ns: int               # the stream ended
    messages: list[ParsedMessage]
    calls: list[ToolCall] = field(default_factory=list)
    deviations: collections.Counter[str] = field(default_factory=collections.Counter)
    stop: str = "stop"  # stop | length
    final_ns: int | None = None        # arrival of the first final-channel content token (None: none)
    cached_tokens: int | None = None   # prompt tokens the server took from its cache (None: not reported)

    @property
    def ttft_ms(self) -> float:
        """Elapsed until the first streamed event (nan for none), as the transcript shows it."""
        return (self.token_ns[0] - self.t_start_ns) * MS if self.token_ns else float("nan")

    @property
    def model_ms(self) -> float:
        """Elapsed from the request to the stream's end."""
        return (self.t_end_ns - self.t_start_ns) * MS

    @property
    def tool_ms(self) -> float:
        return sum(c.tool_ms for c in self.calls)


@dataclass
class SessionResult:
    """The end of `run()`: the final answer (or None), every turn, and why it ended."""

    final: str | None
    turns: list[Turn]
    stop: str  # final | max_turns | error
    error: str | None = None

    @property
    def calls(self) -> list[ToolCall]:
        return [c for t in self.turns for c in t.calls]

    @property
    def deviations(self) -> collections.Counter[str]:
        return sum((t.deviations for t in self.turns), collections.Counter())


def tool_message(call: ParsedMessage, result: ToolResult, author: str) -> Message:
    """The tool's answer: author the tool, to the assistant, on the channel of the call."""
    msg = Message.from_author_and_content(Author.new(Role.TOOL, author), result.text)
    return msg.with_recipient("assistant").with_channel(call.channel or "commentary")


class Session:
    """One conversation with a model and its tools."""

    def __init__(self, backend: GenerateBackend, toolset: Toolset, options: HarmonyOptions | None = None, *,
                 max_turns: int = 8, max_tokens: int = 1024, temperature: float = 0.0, seed: int = 0,
                 on_message: Callable[[str, ParsedMessage | Message, dict[str, Any]], None] | None = None,
                 on_delta: Callable[[str | None, str], None] | None = None) -> None:
        if max_turns < 1:
            raise ValueError(f"max_turns must be >= 1, got {max_turns}")
        self.backend, self.toolset = backend, toolset
        self.options = options or HarmonyOptions()
        self.options.function_tools = toolset.function_specs()
        self.options.browser = toolset.builtin("browser") is not None
        self.options.python = toolset.builtin("python") is not None
        self.options.builtin_descriptions = {t.name: t.description for t in toolset.tools
                                             if t.builtin and bool(getattr(t, "description", ""))}
        notes = [self.options.developer_instructions,  # then what a tool asks for (apply_patch's format)
                 *(getattr(t, "instructions", None) for t in toolset.tools)]
        self.options.developer_instructions = "\n\n".join(n for n in notes if n) or None
        self.max_turns, self.max_tokens = max_turns, max_tokens
        self.temperature, self.seed = temperature, seed
        self.messages: list[Message] = []
        self.on_message = on_message  # transcripts and the CLI listen here
        self.on_delta = on_delta  # (channel, text) of each token as it streams: parsed in the loop
        self._turns = 0

    def _emit(self, kind: str, msg: ParsedMessage | Message, **info: Any) -> None:
        if self.on_message is not None:
            self.on_message(kind, msg, info)

    def _generate(self, index: int) -> Turn:
        prompt = render_prompt(self.messages, self.options)
        times: list[int] = []
        ids: list[tuple[int, int]] = []  # (token, its arrival)
        parser = StreamParser()
        final_ns: list[int] = []

        def feed(token: int, t_ns: int) -> TokenEvent:
            te = parser.feed(token)
            if not final_ns and te.kind == "content" and te.channel == FINAL:
                final_ns.append(t_ns)
            return te

        t0 = time.perf_counter_ns()
        for ev in self.backend.generate(prompt, self.max_tokens, STOP_TOKENS, self.temperature,
                                        self.seed + self._turns):
            times.append(ev.t_ns)
            if ev.token is not None:
                ids.append((ev.token, ev.t_ns))
                if self.on_delta is not None:  # interactive: parse as it streams (costs ~0.1 ms/token)
                    te = feed(ev.token, ev.t_ns)
                    if te.delta:
                        self.on_delta(te.channel, te.delta)
        t_end = time.perf_counter_ns()
        if self.on_delta is None:  # measured runs: parse right after the stream
            for token, t_ns in ids:
                feed(token, t_ns)
        messages = parser.finish()
        stop = "stop" if (ids and ids[-1][0] in STOP_TOKENS) or len(times) < self.max_tokens else "length"
        b = self.backend
        cached = cached_tokens(b.last_timings, b.last_usage) if isinstance(b, ServedBackend) else None
        return Turn(index, len(prompt), len(times), t0, times, t_end, messages,
                    deviations=collections.Counter(parser.deviations), stop=stop,
                    final_ns=final_ns[0] if final_ns else None, cached_tokens=cached)

    def _call(self, msg: ParsedMessage) -> ToolCall:
        recipient = msg.recipient or ""
        t0 = time.perf_counter_ns()
        result = self.toolset.call(recipient, msg.content)
        tool_ms = (time.perf_counter_ns() - t0) * MS
        func = self.toolset.resolve(recipient)
        author = func.recipient if func is not None else recipient
        answer = tool_message(msg, result, author)
        self.messages.append(answer)
        self._emit("tool_result", answer, tool_ms=tool_ms, error=result.error)
        return ToolCall(msg, result, tool_ms)

    def run(self, prompt: str) -> SessionResult:
        """Send a user message and loop until a final answer or max_turns."""
        first = user(prompt)
        self.messages.append(first)
        self._emit("user", first)
        turns: list[Turn] = []
        for index in range(self.max_turns):
            try:
                turn = self._generate(index)
            except Exception as exc:  # a backend failure is the harness's, not the model's
                return SessionResult(None, turns, "error", f"{type(exc).__name__}: {exc}")
            self._turns += 1
            turns.append(turn)
            final = None
            for msg in turn.messages:
                self.messages.append(msg.to_message())
                self._emit("assistant", msg, turn=index, tokens=msg.tokens, prompt_tokens=turn.prompt_tokens,
                           cached_tokens=turn.cached_tokens, completion_tokens=turn.completion_tokens,
                           ttft_ms=turn.ttft_ms, model_ms=turn.model_ms)
                if msg.is_tool_call:
                    turn.calls.append(self._call(msg))
                elif msg.channel == FINAL and msg.role == "assistant":
                    final = msg.content
            if final is not None and not turn.calls:
                return SessionResult(final, turns, FINAL)
        return SessionResult(None, turns, "max_turns")

    def outcome(self, result: SessionResult, workspace: Path | None = None) -> Outcome:
        """What verifiers see of this run."""
        states = {t.name: t.state() for t in self.toolset.tools}
        state = {name: st for name, st in states.items() if st is not None}
        return Outcome(final=result.final, calls=[c.as_call(self.toolset) for c in result.calls],
                       workspace=workspace, tool_state=state, stop=result.stop, error=result.error)
