"""Fixtures for the Harmony adapter tests: the real o200k_harmony encoding, text -> token ids."""
from __future__ import annotations

from collections.abc import Callable

import pytest
from openai_harmony import HarmonyEncoding, Message, Role

from harness.models.vocab import harmony_encoding

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
TIME_TOOL = {
    "name": "get_time",
    "description": "Local time in a timezone.",
    "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]},
}


@pytest.fixture(scope="session")
def function_tools() -> list[dict]:
    """Two function tools with JSON-schema parameters."""
    return [WEATHER_TOOL, TIME_TOOL]


@pytest.fixture(scope="session")
def enc() -> HarmonyEncoding:
    return harmony_encoding()


@pytest.fixture(scope="session")
def encode(enc: HarmonyEncoding) -> Callable[[str], list[int]]:
    """Text with Harmony special tokens written out -> token ids."""
    return lambda text: enc.encode(text, allowed_special="all")


@pytest.fixture(scope="session")
def completion_of(enc: HarmonyEncoding) -> Callable[[list[Message]], list[int]]:
    """Assistant messages as the model would emit them after the prompt's `<|start|>assistant`."""
    head = enc.encode("<|start|>assistant", allowed_special="all")

    def render(messages: list[Message]) -> list[int]:
        out: list[int] = []
        for msg in messages:
            assert msg.author.role == Role.ASSISTANT
            out += enc.render(msg)
        assert out[:len(head)] == head
        return out[len(head):]
    return render
