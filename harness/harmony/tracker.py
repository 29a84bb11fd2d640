"""Which channel and recipient each streamed token belongs to, at a few microseconds a token.

openai-harmony's StreamableParser costs 50-200 µs a token when it runs between llama.cpp decodes
(measured on synthetic-small: the model's weights stream through the caches between two calls)
against ~13 µs a token when it runs over the finished completion. So while tokens stream the
harness follows the header structure on token ids alone (<|start|>, <|channel|>, <|message|>,
stop tokens), decoding a header's few tokens once when its <|message|> arrives; the full
StreamParser (messages, deviations) then runs token by token over the completion as soon as the
stream ends. Both are timed as the request's parse time.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from openai_harmony import HarmonyEncoding

from harness.harmony.parse import STOPS
from harness.models.vocab import CONSTRAIN, MESSAGE, START

_RECIPIENT = re.compile(r"to=(\S+)")


@dataclass(slots=True)
class Position:
    channel: str | None
    recipient: str | None
    in_content: bool


class ChannelTracker:
    """Feed completion token ids in order (starting inside the assistant header, as generated)."""

    def __init__(self, encoding: HarmonyEncoding) -> None:
        self.encoding = encoding
        self._header: list[int] = []
        self._in_header, self._in_content = True, False
        self.channel: str | None = None
        self.recipient: str | None = None

    def feed(self, token: int) -> Position:
        if token == START:
            self._header, self._in_header, self._in_content = [], True, False
            self.channel = self.recipient = None
        elif token == MESSAGE and self._in_header:
            self._read_header()
            self._in_header, self._in_content = False, True
            return Position(self.channel, self.recipient, False)
        elif token in STOPS:
            was = Position(self.channel, self.recipient, False)
            self._in_header = self._in_content = False
            return was
        elif self._in_header:
            self._header.append(token)
        return Position(self.channel, self.recipient, self._in_content)

    def _read_header(self) -> None:
        """Channel after <|channel|> (up to a space or <|constrain|>), recipient from `to=`."""
        ids = [t for t in self._header if t != CONSTRAIN]
        text = self.encoding.decode(ids) if ids else ""
        if "<|channel|>" in text:
            words = text.split("<|channel|>", 1)[1].split()
            self.channel = words[0] if words else None
        match = _RECIPIENT.search(text)
        self.recipient = match.group(1).split("<|")[0] if match else None
