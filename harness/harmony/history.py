"""Conversation history upkeep between renders: dropping finished chain of thought.

gpt-oss is trained to see its analysis (chain of thought) only for the turn in progress. Once a
turn has ended with an assistant message on the final channel, that turn's analysis is dropped
before the next render; a turn still calling tools keeps its analysis so the model can continue
its reasoning. openai-harmony's own `auto_drop_analysis` only handles the first final message
of a conversation, so the harness prunes here and renders with auto-drop off.
"""
from __future__ import annotations

from openai_harmony import Message, Role

ANALYSIS = "analysis"
FINAL = "final"


def split_turns(messages: list[Message]) -> list[list[Message]]:
    """Split a history into turns; a turn starts at each user message.

    Messages before the first user message (system, developer) form a turn of their own.
    """
    turns: list[list[Message]] = [[]]
    for msg in messages:
        if msg.author.role == Role.USER and turns[-1]:
            turns.append([])
        turns[-1].append(msg)
    return [turn for turn in turns if turn]


def turn_ended(turn: list[Message]) -> bool:
    """True once the turn holds an assistant message on the final channel."""
    return any(m.author.role == Role.ASSISTANT and m.channel == FINAL for m in turn)


def is_analysis(msg: Message) -> bool:
    """An analysis-channel message of the assistant, or a tool's answer on that channel.

    Built-in tools (browser, python) are called on the analysis channel and answer on it; their
    answers go together with the calls, or they would be left without the call they answer.
    """
    return msg.channel == ANALYSIS and msg.author.role in (Role.ASSISTANT, Role.TOOL)


def prune_analysis(messages: list[Message]) -> list[Message]:
    """The history without the analysis of turns that ended with a final message.

    The input list and its messages are left unchanged; the last turn keeps its analysis as long
    as it has no final message (it is still calling tools).
    """
    kept: list[Message] = []
    for turn in split_turns(messages):
        if turn_ended(turn):
            kept.extend(m for m in turn if not is_analysis(m))
        else:
            kept.extend(turn)
    return kept
