"""The streaming channel tracker agrees with StreamParser on every content token."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.harmony import StreamParser
from harness.harmony.tracker import ChannelTracker
from harness.models.vocab import harmony_encoding

WORDS = st.sampled_from(["Hello", " world", "!", " 42", "{\"a\": 1}", " Paris", "\n", " ok"])
HEADERS = st.sampled_from([
    "<|channel|>analysis", "<|channel|>final", "<|channel|>commentary",
    "<|channel|>commentary to=functions.get_weather <|constrain|>json",
    " to=functions.lookup<|channel|>commentary", "<|channel|>analysis to=browser.search",
    "<|channel|>commentary to=python",
])
ENDS = st.sampled_from(["<|end|>", "<|call|>", "<|return|>"])


def positions(text: str):
    enc = harmony_encoding()
    ids = enc.encode(text, allowed_special="all")
    tracker, parser = ChannelTracker(enc), StreamParser()
    mine = [(p.channel, p.recipient) if p.in_content else None for p in map(tracker.feed, ids)]
    theirs = [(e.channel, e.recipient) if e.kind == "content" else None for e in map(parser.feed, ids)]
    return mine, theirs


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(HEADERS, st.lists(WORDS, min_size=1, max_size=6), ENDS), min_size=1, max_size=4))
def test_tracker_matches_stream_parser_on_well_formed_completions(messages):
    text = "<|start|>assistant".join(h + "<|message|>" + "".join(ws) + e for h, ws, e in messages)
    mine, theirs = positions(text)
    assert mine == theirs
    assert any(m is not None for m in mine)


def test_final_channel_content_is_tagged_final():
    mine, _ = positions("<|channel|>analysis<|message|>Think.<|end|><|start|>assistant"
                        "<|channel|>final<|message|>Hello there!<|return|>")
    assert [m for m in mine if m][-1] == ("final", None)
    assert ("analysis", None) in mine
