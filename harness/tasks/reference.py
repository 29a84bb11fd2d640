"""A task's reference completions as token ids and parsed messages, and what is wrong with them.

The replay backend plays `reference_tokens(task)` turn by turn; `reference_problems(task)` checks
that each completion is what a correct gpt-oss would emit: it tokenizes with the Harmony special
tokens, holds its stop token (<|call|> or <|return|>) only at its very end, parses with the
harness's own parser with no deviation but those the task declares, survives openai-harmony's
rendering (the parsed messages, rendered and parsed again, are the same), and calls exactly one
tool per turn but the last, which ends on the final channel.

A tool call's header may name the recipient after the channel, as gpt-oss writes it
(`<|channel|>commentary to=functions.x <|constrain|>json<|message|>`), or before it, as
openai-harmony renders it (` to=functions.x<|channel|>commentary <|constrain|>json<|message|>`).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from openai_harmony import HarmonyEncoding

from harness.harmony import STOP_TOKENS, ParsedMessage, parse_completion
from harness.tasks.suite import Task

FINAL = "final"


@dataclass(frozen=True)
class ReferenceTurn:
    """One reference completion: its text, token ids, parsed messages and parse deviations."""

    text: str
    tokens: list[int]
    messages: list[ParsedMessage]
    deviations: Counter[str]

    @property
    def calls(self) -> list[ParsedMessage]:
        return [m for m in self.messages if m.is_tool_call]

    @property
    def final(self) -> str | None:
        """The final-channel text of this completion, if it has one."""
        return next((m.content for m in self.messages if m.channel == FINAL and not m.is_tool_call), None)


def _encoding(encoding: HarmonyEncoding | None) -> HarmonyEncoding:
    if encoding is not None:
        return encoding
    from harness.models.vocab import harmony_encoding
    return harmony_encoding()


def reference_tokens(task: Task, encoding: HarmonyEncoding | None = None) -> list[list[int]]:
    """The token ids of each reference completion, in turn order."""
    enc = _encoding(encoding)
    return [enc.encode(text, allowed_special="all") for text in task.reference]


def reference_turns(task: Task, encoding: HarmonyEncoding | None = None) -> list[ReferenceTurn]:
    """Each reference completion tokenized and parsed as the session parses a completion."""
    enc = _encoding(encoding)
    turns = []
    for text, ids in zip(task.reference, reference_tokens(task, enc)):
        messages, deviations = parse_completion(ids, enc)
        turns.append(ReferenceTurn(text, ids, messages, Counter(deviations)))
    return turns


def _shape(messages: list[ParsedMessage]) -> list[tuple[str | None, str | None, str | None, str]]:
    return [(m.channel, m.recipient, m.content_type, m.content) for m in messages]


def _round_trips(turn: ReferenceTurn, enc: HarmonyEncoding) -> bool:
    """openai-harmony's rendering of the parsed messages parses back to the same messages."""
    head = enc.encode("<|start|>assistant", allowed_special="all")
    ids = [t for m in turn.messages for t in enc.render(m.to_message())]
    again, _ = parse_completion(ids[len(head):] if ids[:len(head)] == head else ids, enc)
    return _shape(again) == _shape(turn.messages)


def reference_problems(task: Task, encoding: HarmonyEncoding | None = None) -> list[str]:
    """What keeps the reference from being a clean gpt-oss completion sequence (empty: none)."""
    enc = _encoding(encoding)
    problems: list[str] = []
    deviations: Counter[str] = Counter()
    turns = reference_turns(task, enc)
    for i, turn in enumerate(turns):
        last = i == len(turns) - 1
        stops = [k for k, t in enumerate(turn.tokens) if t in STOP_TOKENS]
        if stops != [len(turn.tokens) - 1]:
            problems.append(f"reference[{i}]: a stop token (<|call|>, <|return|>) must end it and only it")
        deviations += turn.deviations
        if last and (turn.calls or turn.final is None):
            problems.append(f"reference[{i}]: the last completion must end on the final channel, "
                            "with no call")
        if not last and (len(turn.calls) != 1 or turn.messages[-1] is not turn.calls[0]):
            problems.append(f"reference[{i}]: a completion before the last must end with its one tool call")
        if not _round_trips(turn, enc):
            problems.append(f"reference[{i}]: the parsed messages do not survive openai-harmony's "
                            f"rendering and a second parse")
    want = Counter({k: v for k, v in task.reference_deviations.items() if v})
    if +deviations != want:
        problems.append(f"reference deviations {dict(+deviations)} differ from the declared {dict(want)}")
    return problems
