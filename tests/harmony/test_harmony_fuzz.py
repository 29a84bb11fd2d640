"""Property tests: StreamParser never raises, agrees with openai-harmony on what it accepts."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai_harmony import HarmonyError, Role

from harness.harmony import DEVIATIONS, StreamParser, assistant, parse_completion, tool_call
from harness.models.vocab import harmony_encoding

ENC = harmony_encoding()
SPECIALS = st.integers(199998, 200018)
FRAMING = st.sampled_from([200006, 200007, 200008, 200005, 200003, 200002, 200012])
WORDS = st.sampled_from(ENC.encode(" assistant user tool analysis commentary final to=functions.get_weather "
                                   "get_weather python json code hello 日本"))
TOKEN = st.one_of(FRAMING, SPECIALS, WORDS, st.integers(0, 201087))
TOKENS = st.lists(TOKEN, max_size=60)
_PIECES = [ENC.render(m) for m in (
    assistant("Thinking about it.", "analysis"), assistant("Bonjour 🌍", "final"), assistant("Working.", "commentary"),
    tool_call("get_weather", '{"city":"Paris"}'), tool_call("python", "print(1)", channel="analysis"))]
_CHUNK = st.one_of(st.sampled_from(_PIECES), st.lists(TOKEN, max_size=3))
# rendered messages with random tokens spliced in, starting after the prompt's <|start|>assistant
NEAR_VALID = st.lists(_CHUNK, min_size=1, max_size=6).map(lambda chunks: [t for c in chunks for t in c][2:])
LIGHT = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STRUCTURAL = {"stray_text", "parse_error"}  # cases where openai-harmony itself would fail or differ


@LIGHT
@given(st.one_of(TOKENS, NEAR_VALID), st.sampled_from([Role.ASSISTANT, None]))
def test_random_tokens_never_raise(tokens, role):
    parser = StreamParser(ENC, role=role)
    events = [parser.feed(t) for t in tokens]
    msgs = parser.finish()
    assert isinstance(msgs, list) and msgs == parser.messages
    assert [e.token for e in events] == tokens
    assert set(parser.deviations) <= set(DEVIATIONS)
    assert sum(m.tokens for m in msgs) <= len(tokens)
    assert sum(parser.tokens_by_channel.values()) == sum(1 for e in events if e.channel is not None)
    assert parse_completion(tokens, ENC, role=role) == (msgs, parser.deviations)


@LIGHT
@given(st.one_of(TOKENS, NEAR_VALID))
def test_agrees_with_openai_harmony_when_it_accepts(tokens):
    try:
        reference = ENC.parse_messages_from_completion_tokens(tokens, Role.ASSISTANT, strict=False)
    except HarmonyError:
        return
    msgs, deviations = parse_completion(tokens, ENC)
    if not STRUCTURAL & set(deviations):
        assert [m.to_message() for m in msgs] == reference


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)
_MESSAGE = st.one_of(
    st.builds(assistant, _TEXT, st.sampled_from(["analysis", "commentary", "final"])),
    st.builds(tool_call, st.sampled_from(["get_weather", "functions.lookup", "browser.search"]), _TEXT),
)


@LIGHT
@given(st.lists(_MESSAGE, min_size=1, max_size=5))
def test_rendered_assistant_messages_round_trip(sent):
    tokens = [t for m in sent for t in ENC.render(m)][2:]  # after the prompt's <|start|>assistant
    msgs, deviations = parse_completion(tokens, ENC)
    assert not deviations
    assert [m.to_message() for m in msgs] == sent
    assert sum(m.tokens for m in msgs) == len(tokens)
