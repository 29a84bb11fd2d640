"""The replay backend: plays recorded Harmony completions, token for token, as a model would.

It is a policy, not a measurement: the agent task suite's reference completions (written by hand
in the real gpt-oss format) are replayed to prove the loop, the tools and the verifiers, with no
model in the way. A script maps a conversation's user message to the completions of its turns;
the turn is the number of tool answers rendered after that user message, so the same script
works whatever the tools answered, in-process or over HTTP (replay_server.py serves the same
scripts on llama-server's /completion API).
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from harness.backends.base import StreamEvent

_USER = re.compile(r"<\|start\|>user<\|message\|>(.*?)<\|end\|>", re.S)
_TOOL_ANSWER = re.compile(r"<\|start\|>(?!assistant|user|system|developer)[^<]*?to=assistant")


class ReplayMiss(LookupError):
    """The prompt's user message or turn has no recorded completion."""


class ReplayScripts:
    """User message text -> the completion text of each turn, encoded once to token ids."""

    def __init__(self, scripts: Mapping[str, Sequence[str]], encoding: Any | None = None) -> None:
        if encoding is None:
            from harness.models.vocab import harmony_encoding
            encoding = harmony_encoding()
        self.encoding = encoding
        self.scripts: dict[str, list[list[int]]] = {
            key.strip(): [encoding.encode(text, allowed_special="all") for text in turns]
            for key, turns in scripts.items()}

    def lookup(self, prompt: Sequence[int]) -> list[int]:
        """The recorded completion for this prompt: its last user message and the turn reached."""
        text = self.encoding.decode([int(t) for t in prompt])
        users = list(_USER.finditer(text))
        if not users:
            raise ReplayMiss("replay: the prompt has no user message")
        key = users[-1].group(1).strip()
        turns = self.scripts.get(key)
        if turns is None:
            raise ReplayMiss(f"replay: no recorded completions for the user message {key[:80]!r}")
        turn = len(_TOOL_ANSWER.findall(text, users[-1].end()))
        if turn >= len(turns):
            raise ReplayMiss(f"replay: {len(turns)} recorded turns for {key[:60]!r}, turn {turn + 1} asked")
        return turns[turn]


def stream(tokens: Sequence[int], max_tokens: int, stop: Sequence[int]) -> Iterator[int]:
    """The tokens a generator would give: up to max_tokens, ending after the first stop id."""
    stops = set(stop)
    for i, token in enumerate(tokens):
        if i >= max_tokens:
            return
        yield token
        if token in stops:
            return


class ReplayBackend:
    """A GenerateBackend that replays recorded completions (backend=replay, in-process)."""

    name = "replay"

    def __init__(self, scripts: ReplayScripts) -> None:
        self.scripts = scripts
        self.last_usage: dict[str, Any] = {}

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def info(self) -> dict[str, Any]:
        return {"model_type": "replay", "n_threads": 0}

    def tokenize(self, text: str) -> list[int]:
        tokens: list[int] = self.scripts.encoding.encode(text, allowed_special="all")
        return tokens

    def generate(self, prompt: Sequence[int], max_tokens: int, stop: Sequence[int],
                 temperature: float = 0.0, seed: int = 0) -> Iterator[StreamEvent]:
        tokens = self.scripts.lookup(prompt)
        for token in stream(tokens, max_tokens, stop):
            yield StreamEvent(time.perf_counter_ns(), token)
