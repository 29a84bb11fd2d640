"""Parsing completions: tool calls, channels per token, and each deviation counted, never raised."""
from __future__ import annotations

import pytest
from openai_harmony import Role

from harness.harmony import DEVIATIONS, StreamParser, assistant, parse_completion, tool_call

CALL = '{"city":"Paris"}'


def _stream(tokens, enc, **kw):
    parser = StreamParser(enc, **kw)
    events = [parser.feed(t) for t in tokens]
    return parser, events, parser.finish()


@pytest.mark.parametrize("text", [
    f"<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{CALL}<|call|>",
    f" to=functions.get_weather<|channel|>commentary <|constrain|>json<|message|>{CALL}<|call|>",
])
def test_tool_call_detected_with_recipient_before_or_after_channel(enc, encode, text):
    msgs, deviations = parse_completion(encode(text), enc)
    assert not deviations
    [msg] = msgs
    assert msg.is_tool_call and msg.tool_name == "get_weather"
    assert (msg.channel, msg.recipient, msg.content, msg.content_type) == (
        "commentary", "functions.get_weather", CALL, "<|constrain|>json")


def test_recipient_before_channel_in_a_later_message(enc, encode):
    text = ("<|channel|>analysis<|message|>Let me call.<|end|>"
            f"<|start|>assistant to=functions.get_weather<|channel|>commentary <|constrain|>json<|message|>{CALL}<|call|>")
    msgs, deviations = parse_completion(encode(text), enc)
    assert not deviations
    assert [(m.channel, m.recipient, m.content) for m in msgs] == [
        ("analysis", None, "Let me call."), ("commentary", "functions.get_weather", CALL)]


def test_recipient_without_prefix_counted(enc, encode):
    msgs, deviations = parse_completion(encode(f"<|channel|>commentary to=get_weather <|constrain|>json<|message|>{CALL}<|call|>"), enc)
    assert deviations == {"recipient_without_prefix": 1}
    assert msgs[0].is_tool_call and msgs[0].tool_name == "get_weather" and msgs[0].recipient == "get_weather"


@pytest.mark.parametrize("recipient,expected", [
    ("functions.get_weather", {"tool_call_on_analysis": 1}),
    ("get_weather", {"tool_call_on_analysis": 1, "recipient_without_prefix": 1}),
])
def test_tool_call_on_analysis_counted(enc, encode, recipient, expected):
    msgs, deviations = parse_completion(encode(f"<|channel|>analysis to={recipient}<|message|>{CALL}<|call|>"), enc)
    assert deviations == expected
    assert msgs[0].channel == "analysis" and msgs[0].tool_name == "get_weather"


@pytest.mark.parametrize("header,name", [
    ("<|channel|>analysis to=python code", "python"),
    ("<|channel|>analysis to=browser.search code", "browser.search"),
    ("<|channel|>commentary to=browser.open <|constrain|>json", "browser.open"),
])
def test_builtin_tools_are_not_deviations(enc, encode, header, name):
    msgs, deviations = parse_completion(encode(f"{header}<|message|>x<|call|>"), enc)
    assert not deviations
    assert msgs[0].tool_name == name


def test_messages_to_the_assistant_are_not_tool_calls(enc, encode):
    msgs, _ = parse_completion(encode("<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>21<|end|>"),
                               enc, role=None)
    assert msgs[0].role == "tool" and msgs[0].name == "functions.get_weather"
    assert not msgs[0].is_tool_call and msgs[0].tool_name is None


@pytest.mark.parametrize("stop", ["<|return|>", "<|call|>", "<|end|>"])
def test_stop_before_message_counted(enc, encode, stop):
    text = f"<|channel|>commentary to=functions.get_weather{stop}<|start|>assistant<|channel|>final<|message|>Done<|return|>"
    tokens = encode(text)
    msgs, deviations = parse_completion(tokens, enc)
    assert deviations == {"stop_before_message": 1}
    # openai-harmony (strict off) keeps the channel and the rest of the header as content
    assert (msgs[0].channel, msgs[0].content) == ("commentary", "to=functions.get_weather")
    assert (msgs[-1].channel, msgs[-1].content) == ("final", "Done")
    reference = enc.parse_messages_from_completion_tokens(tokens, Role.ASSISTANT, strict=False)
    assert [m.to_message() for m in msgs] == reference


def test_stray_text_between_messages_skipped_and_counted(enc, encode):
    text = ("<|channel|>analysis<|message|>Think.<|end|>oops stray words<|call|>"
            "<|start|>assistant<|channel|>final<|message|>Hi<|return|>tail")
    parser, events, msgs = _stream(encode(text), enc)
    assert parser.deviations == {"stray_text": 2}  # one per run
    assert [(m.channel, m.content) for m in msgs] == [("analysis", "Think."), ("final", "Hi")]
    skipped = [e for e in events if e.kind == "skipped"]
    assert enc.decode([e.token for e in skipped]) == "oops stray words<|call|>tail"
    assert all(e.channel is None for e in skipped)


def test_parse_error_recovers_at_next_start(enc, encode):
    text = ("<|channel|>final<|message|>a<|end|><|start|>nobody<|message|>lost<|end|>more"
            "<|start|>assistant<|channel|>final<|message|>kept<|return|>")
    msgs, deviations = parse_completion(encode(text), enc)
    assert deviations == {"parse_error": 1}  # the unknown role; the skipped tail is not stray_text
    assert [m.content for m in msgs] == ["a", "kept"]


@pytest.mark.parametrize("bad", [-1, 2**40])
def test_ids_that_are_no_token_count_as_parse_error(enc, encode, bad):
    tokens = [*encode("<|channel|>final<|message|>a"), bad, *encode("<|start|>assistant<|channel|>final<|message|>b")]
    msgs, deviations = parse_completion(tokens, enc)
    assert deviations == {"parse_error": 1} and [m.content for m in msgs] == ["b"]


def test_start_inside_content_closes_the_message(enc, encode):
    text = "<|channel|>final<|message|>abc<|start|>assistant<|channel|>final<|message|>ok<|return|>"
    msgs, deviations = parse_completion(encode(text), enc)
    assert deviations == {"parse_error": 1}
    assert [m.content for m in msgs] == ["abc", "ok"]


def test_start_inside_header_drops_the_header(enc, encode):
    text = "<|channel|>fin<|start|>assistant<|channel|>final<|message|>ok<|return|>"
    msgs, deviations = parse_completion(encode(text), enc)
    assert deviations == {"parse_error": 1}
    assert [(m.channel, m.recipient, m.content) for m in msgs] == [("final", None, "ok")]


def test_streaming_matches_whole_parse_and_channels_per_token(enc, encode):
    text = ("<|channel|>analysis<|message|>User wants weather. Call tool.<|end|>"
            f"<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{CALL}<|call|>"
            "<|start|>assistant<|channel|>final<|message|>Sunny, 21 °C in Paris 🌞.<|return|>")
    tokens = encode(text)
    parser, events, streamed = _stream(tokens, enc)
    whole, deviations = parse_completion(tokens, enc)
    assert streamed == whole and parser.deviations == deviations == {}
    assert [e.token for e in events] == tokens
    by_msg = {}
    for e in events:
        if e.kind == "content":
            by_msg.setdefault((e.channel, e.recipient), []).append(e.delta)
    assert by_msg == {("analysis", None): list(by_msg[("analysis", None)]),
                      ("commentary", "functions.get_weather"): list(by_msg[("commentary", "functions.get_weather")]),
                      ("final", None): list(by_msg[("final", None)])}
    assert {k: "".join(v) for k, v in by_msg.items()} == {
        ("analysis", None): "User wants weather. Call tool.",
        ("commentary", "functions.get_weather"): CALL,
        ("final", None): "Sunny, 21 °C in Paris 🌞."}
    final_start = max(i for i, t in enumerate(tokens) if t == 200008)  # the final's <|message|>
    assert all(e.channel == "final" for e in events[final_start:])
    assert all(e.kind == "content" for e in events[final_start + 1:-1]) and events[-1].kind == "end"
    assert all(e.channel is None for e in events[:2])  # `<|channel|>analysis` before <|message|>
    assert parser.tokens_by_channel == {ch: sum(1 for e in events if e.channel == ch)
                                        for ch in ("analysis", "commentary", "final")}
    assert sum(m.tokens for m in whole) == len(tokens)


def test_content_cut_short_is_kept_header_cut_short_dropped(enc, encode):
    msgs, deviations = parse_completion(encode("<|channel|>analysis<|message|>Half a thou"), enc)
    assert [(m.channel, m.content) for m in msgs] == [("analysis", "Half a thou")] and not deviations
    msgs, deviations = parse_completion(encode("<|channel|>analysis<|message|>x<|end|><|start|>assistant<|chan"), enc)
    assert [m.content for m in msgs] == ["x"] and not deviations
    assert parse_completion([], enc) == ([], {})


def test_finish_is_idempotent_and_feeding_resumes(enc, encode):
    parser = StreamParser(enc)
    for t in encode("<|channel|>final<|message|>one"):
        parser.feed(t)
    first = parser.finish()
    assert parser.finish() == first
    for t in encode("<|start|>assistant<|channel|>final<|message|>two<|return|>"):
        parser.feed(t)
    assert [m.content for m in parser.finish()] == ["one", "two"]


def test_parsed_message_back_to_harmony_message(enc, completion_of):
    sent = [assistant("hmm", "analysis"), tool_call("get_weather", CALL)]
    msgs, _ = parse_completion(completion_of(sent), enc)
    assert [m.to_message() for m in msgs] == sent
    assert msgs[1].to_message().author.role == Role.ASSISTANT


def test_deviation_names_are_the_documented_ones():
    assert DEVIATIONS == ("recipient_without_prefix", "tool_call_on_analysis", "stop_before_message",
                          "stray_text", "parse_error", "no_message")


def test_a_completion_with_no_whole_message_is_counted(enc, encode):
    """A random model's header that never reaches <|message|>: no message, one no_message."""
    msgs, deviations = parse_completion(encode("<|channel|>analysis to=x y z w v u"), enc)
    assert msgs == [] and deviations == {"no_message": 1}
    msgs, deviations = parse_completion(encode("<|channel|>final<|message|>cut short"), enc)
    assert [m.content for m in msgs] == ["cut short"] and deviations == {}
