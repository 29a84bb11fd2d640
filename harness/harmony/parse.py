"""Streaming, forgiving parse of gpt-oss completions with openai-harmony's StreamableParser.

The completion follows a prompt that ends with `<|start|>assistant`, so its first tokens are
the rest of an assistant header (`<|channel|>analysis<|message|>...`); the parser starts there,
as openai-harmony's does with role=assistant. Tokens are fed one at a time, and after each the
caller knows the channel and recipient of the message it belongs to.

Where the model strays from the format, nothing is raised: each case is counted in
`StreamParser.deviations` (names in DEVIATIONS) and parsing goes on:

- recipient_without_prefix: a tool call to "get_weather" rather than "functions.get_weather"
  (built-in `browser.*` and `python` carry no prefix and are not counted);
- tool_call_on_analysis: a function-tool call on the analysis channel (built-in tools are called
  there by design and are not counted);
- stop_before_message: <|end|>, <|return|> or <|call|> inside a header; openai-harmony (strict
  off) then yields a message with the channel and the rest of the header as content; kept;
- stray_text: tokens where a message should start (not <|start|>), skipped; one count per run;
- no_message: tokens came but not one message did (a header that never reached <|message|>,
  as a random model writes), counted once per completion;
- parse_error: malformed structure recovered from at the next <|start|>: an error raised by the
  openai-harmony parser, e.g. an unknown role or a token id that is no u32 (the message is lost,
  tokens up to the next <|start|> are skipped), or
  a <|start|> arriving inside a header (dropped) or inside content (the message is closed).
"""
from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from openai_harmony import (
    Author,
    HarmonyEncoding,
    HarmonyError,
    Message,
    Role,
    StreamableParser,
    TextContent,
)

from harness.harmony.recipients import is_builtin, is_function, short_name
from harness.models.vocab import CALL, END, MESSAGE, RETURN, START

STOPS = frozenset({RETURN, END, CALL})  # where a message ends
DEVIATION_DOCS: dict[str, str] = {  # what each counter counts (the results schema documents these)
    "recipient_without_prefix": "a tool recipient without the functions. prefix",
    "tool_call_on_analysis": "a tool call on the analysis channel",
    "stop_before_message": "a stop token before <|message|>",
    "stray_text": "tokens outside any message, skipped",
    "parse_error": "a parser error recovered from at the next <|start|>",
    "no_message": "a completion with tokens but not one whole message (e.g. a header that never ends)",
}
DEVIATIONS: tuple[str, ...] = tuple(DEVIATION_DOCS)
_RECYCLE = 32  # messages one StreamableParser holds before a fresh one takes over
# what openai-harmony raises on bad input: its own error, a role it cannot map, an id that is no u32
_PARSER_ERRORS = (HarmonyError, ValueError, OverflowError)


class _State(enum.Enum):
    """Where the stream is: between messages, in a header, in content, or skipping after an error."""

    EXPECT_START = "expect_start"
    HEADER = "header"
    CONTENT = "content"
    SKIP = "skip"


@dataclass
class ParsedMessage:
    """One message of the completion as parsed; `tokens` counts its header, content and stop."""

    channel: str | None
    recipient: str | None
    content: str
    content_type: str | None
    tokens: int
    role: str = "assistant"
    name: str | None = None

    @property
    def is_tool_call(self) -> bool:
        """A message addressed to a tool (anything but the assistant)."""
        return self.recipient is not None and self.recipient != "assistant"

    @property
    def tool_name(self) -> str | None:
        """The called tool: "functions.x" -> "x"; "x", "browser.search", "python" unchanged."""
        return short_name(self.recipient) if self.is_tool_call and self.recipient else None

    def to_message(self) -> Message:
        """The openai-harmony Message, to append to the history for the next render."""
        msg = Message.from_author_and_content(Author(role=Role(self.role), name=self.name), self.content)
        msg.channel, msg.recipient, msg.content_type = self.channel, self.recipient, self.content_type
        return msg

    @classmethod
    def from_harmony(cls, msg: Message, tokens: int) -> ParsedMessage:
        """From an openai-harmony Message and the number of tokens it took."""
        text = "".join(c.text for c in msg.content if isinstance(c, TextContent))
        return cls(channel=msg.channel, recipient=msg.recipient, content=text,
                   content_type=msg.content_type, tokens=tokens,
                   role=msg.author.role.value, name=msg.author.name)


@dataclass(slots=True)
class TokenEvent:
    """What the parser knows after one token.

    channel/recipient: of the message the token belongs to, known from its <|message|> token
    through its stop token; None for header tokens before <|message|> and for skipped tokens.
    delta: the text this token added to the content ("" outside content).
    kind: "header", "content", "end" (the token closed a message) or "skipped".
    """

    token: int
    channel: str | None
    recipient: str | None
    delta: str
    kind: str


def _default_encoding() -> HarmonyEncoding:
    """The project's offline o200k_harmony encoding."""
    from harness.models.vocab import harmony_encoding

    return harmony_encoding()


class StreamParser:
    """Feed completion tokens one by one; never raises on what the model emits.

    messages: completed messages so far; deviations: counts by name (DEVIATIONS);
    tokens_by_channel: tokens whose TokenEvent had that channel.
    """

    def __init__(self, encoding: HarmonyEncoding | None = None, *, role: Role | None = Role.ASSISTANT) -> None:
        """role: whose header the stream starts in (the prompt's trailing `<|start|>assistant`);
        None for a stream of whole messages, each from its <|start|>."""
        self.encoding = encoding if encoding is not None else _default_encoding()
        self.messages: list[ParsedMessage] = []
        self.deviations: Counter[str] = Counter()
        self.tokens_by_channel: Counter[str] = Counter()
        self._parser: StreamableParser | None = None
        self._state = _State.EXPECT_START
        if role is not None:
            self._parser = StreamableParser(self.encoding, role=role, strict=False)
            self._state = _State.HEADER
        self._held = 0  # messages the current StreamableParser has produced
        self._msg_tokens = 0  # tokens of the open message so far
        self._channel: str | None = None
        self._recipient: str | None = None
        self._stray_run = False
        self._fed = 0

    def feed(self, token: int) -> TokenEvent:
        """Parse one token; returns what is known after it."""
        self._fed += 1
        state = self._state
        if state is _State.CONTENT and token != START:
            return self._feed_content(token)
        if state is _State.HEADER and token != START:
            return self._feed_header(token)
        if token == START:
            return self._start(fresh=state in (_State.HEADER, _State.CONTENT))
        return self._skip(token)

    def _start(self, fresh: bool) -> TokenEvent:
        """<|start|>: begin a message; inside a header or content it is a parse_error."""
        if fresh:
            self.deviations["parse_error"] += 1
            if self._state is _State.CONTENT:
                self._close_open_message()
        parser = self._parser
        if fresh or parser is None or self._held >= _RECYCLE:
            parser = self._new_parser()
        try:
            parser.process(START)
        except _PARSER_ERRORS:  # the old parser was not between messages after all
            self._new_parser().process(START)
        self._state, self._msg_tokens, self._stray_run = _State.HEADER, 1, False
        self._channel = self._recipient = None
        return TokenEvent(START, None, None, "", "header")

    def _new_parser(self) -> StreamableParser:
        """A fresh StreamableParser that expects <|start|> (the role comes from the header)."""
        self._parser, self._held = StreamableParser(self.encoding, role=None, strict=False), 0
        return self._parser

    def _feed_header(self, token: int) -> TokenEvent:
        """A header token: <|message|> opens the content, a stop token ends the message early."""
        failed = self._advance(token)
        if failed is not None:
            return failed
        parser = self._parser
        assert parser is not None  # _advance fed it
        if token in STOPS:
            self.deviations["stop_before_message"] += 1
            return self._end(token)
        if token == MESSAGE:
            self._state = _State.CONTENT
            self._channel, self._recipient = parser.current_channel, parser.current_recipient
            return self._event(token, "", "header")
        return TokenEvent(token, None, None, "", "header")

    def _feed_content(self, token: int) -> TokenEvent:
        """A content token, or the stop token that ends the message."""
        failed = self._advance(token)
        if failed is not None:
            return failed
        if token in STOPS:
            return self._end(token)
        assert self._parser is not None  # _advance fed it
        return self._event(token, self._parser.last_content_delta or "", "content")

    def _advance(self, token: int) -> TokenEvent | None:
        """Count the token into the open message and feed the parser; the event if that failed."""
        assert self._parser is not None
        self._msg_tokens += 1
        try:
            self._parser.process(token)
        except _PARSER_ERRORS:
            return self._fail(token)
        return None

    def _skip(self, token: int) -> TokenEvent:
        """A token outside any message: one stray_text per run (none while recovering)."""
        if self._state is _State.EXPECT_START and not self._stray_run:
            self.deviations["stray_text"] += 1
            self._stray_run = True
        return TokenEvent(token, None, None, "", "skipped")

    def _fail(self, token: int) -> TokenEvent:
        """The parser raised: drop it and the open message, skip until the next <|start|>."""
        self.deviations["parse_error"] += 1
        self._parser, self._state = None, _State.SKIP
        self._channel = self._recipient = None
        return TokenEvent(token, None, None, "", "skipped")

    def _end(self, token: int) -> TokenEvent:
        """The token closed a message: collect it and wait for the next <|start|>."""
        msg = self._collect()
        self._state = _State.EXPECT_START
        if msg is None:
            return TokenEvent(token, None, None, "", "end")
        self._channel, self._recipient = msg.channel, msg.recipient
        return self._event(token, "", "end")

    def _close_open_message(self) -> None:
        """Close the content in progress as if <|end|> had come (the token is not counted)."""
        assert self._parser is not None
        try:
            self._parser.process(END)
        except _PARSER_ERRORS:
            return
        self._collect()

    def _collect(self) -> ParsedMessage | None:
        """Record the message the parser just completed, if it did."""
        assert self._parser is not None
        try:
            done = self._parser.messages
        except _PARSER_ERRORS:
            self.deviations["parse_error"] += 1
            return None
        if len(done) <= self._held:
            return None
        self._held = len(done)
        msg = ParsedMessage.from_harmony(done[-1], self._msg_tokens)
        self._record(msg)
        return msg

    def _record(self, msg: ParsedMessage) -> None:
        """Append a message, counting how its tool call strays from the format."""
        self.messages.append(msg)
        if not msg.is_tool_call or msg.recipient is None or is_builtin(msg.recipient):
            return
        if not is_function(msg.recipient):
            self.deviations["recipient_without_prefix"] += 1
        if msg.channel == "analysis":
            self.deviations["tool_call_on_analysis"] += 1

    def _event(self, token: int, delta: str, kind: str) -> TokenEvent:
        """An event in the open message's channel, counted in tokens_by_channel."""
        if self._channel is not None:
            self.tokens_by_channel[self._channel] += 1
        return TokenEvent(token, self._channel, self._recipient, delta, kind)

    def finish(self) -> list[ParsedMessage]:
        """End of the completion: keep content cut short (no stop token), return all messages.

        A header cut short is dropped without a count: the completion ended (max tokens), the
        model did not stray. Feeding may go on afterwards, from a <|start|>.
        """
        if self._state is _State.CONTENT and self._parser is not None:
            try:
                self._parser.process_eos()
                self._collect()
            except _PARSER_ERRORS:
                self.deviations["parse_error"] += 1
        self._parser, self._state = None, _State.EXPECT_START
        self._channel = self._recipient = None
        self._stray_run = False
        if self._fed and not self.messages:
            self.deviations["no_message"] += 1
        return list(self.messages)


def parse_completion(tokens: Sequence[int], encoding: HarmonyEncoding | None = None, *,
                     role: Role | None = Role.ASSISTANT) -> tuple[list[ParsedMessage], Counter[str]]:
    """Parse a whole completion (feeding every token); returns (messages, deviations)."""
    parser = StreamParser(encoding, role=role)
    for token in tokens:
        parser.feed(token)
    return parser.finish(), parser.deviations
