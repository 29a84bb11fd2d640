"""Rendering: system and developer messages, prompts, constructors; render -> parse round trips."""
from __future__ import annotations

import pytest
from openai_harmony import Conversation, RenderConversationConfig, Role

from harness.harmony import (
    STOP_TOKENS,
    HarmonyOptions,
    assistant,
    developer_message,
    parse_completion,
    render_prompt,
    system_message,
    tool_call,
    tool_result,
    user,
)


@pytest.fixture(scope="module")
def opts(function_tools) -> HarmonyOptions:
    return HarmonyOptions(reasoning_effort="high", conversation_date="2025-03-04", model_identity="You are Testy.",
                          developer_instructions="Answer in French.", function_tools=function_tools)


def _weather_history():
    return [
        user("Weather in Paris?"),
        assistant("Need the weather tool.", "analysis"),
        tool_call("get_weather", '{"city":"Paris"}'),
        tool_result("get_weather", '{"temp_c":21}'),
        assistant("Il fait 21 °C à Paris."),
    ]


def test_stop_tokens_match_openai_harmony(enc):
    assert set(STOP_TOKENS) == set(enc.stop_tokens_for_assistant_actions()) == {200002, 200012}


def test_system_message_carries_the_options(enc, opts):
    text = enc.decode(enc.render(system_message(opts)))
    assert text.startswith("<|start|>system<|message|>You are Testy.")
    for part in ("Knowledge cutoff: 2024-06", "Current date: 2025-03-04", "Reasoning: high"):
        assert part in text
    assert "## browser" not in text and "## python" not in text


def test_system_message_builtin_tools(enc):
    text = enc.decode(enc.render(system_message(HarmonyOptions(browser=True, python=True))))
    assert "namespace browser" in text and "## python" in text and "Reasoning: low" in text


def test_developer_message_absent_without_instructions_or_tools():
    assert developer_message(HarmonyOptions()) is None


def test_developer_message_has_instructions_and_functions(enc, opts):
    msg = developer_message(opts)
    assert msg is not None and msg.author.role == Role.DEVELOPER
    text = enc.decode(enc.render(msg))
    assert "# Instructions\n\nAnswer in French." in text
    assert "namespace functions" in text and "type get_weather" in text and "type get_time" in text


@pytest.mark.parametrize("bad", [{"reasoning_effort": "extreme"}, {"function_tools": [{"description": "x"}]}])
def test_bad_options_raise(bad):
    with pytest.raises(ValueError):
        render_prompt([user("hi")], HarmonyOptions(**bad))


def test_constructors():
    call = tool_call("get_weather", "{}")
    assert (call.recipient, call.channel, call.content_type) == ("functions.get_weather", "commentary",
                                                                 "<|constrain|>json")
    assert tool_call("python", "print(1)", channel="analysis").recipient == "python"
    assert tool_call("browser.search", "{}").content_type is None
    res = tool_result("get_weather", "ok")
    assert (res.author.role, res.author.name, res.recipient, res.channel) == (
        Role.TOOL, "functions.get_weather", "assistant", "commentary")
    assert assistant("x").channel == "final"


def test_prompt_ends_for_assistant_completion(enc, opts):
    tokens = render_prompt([user("Hello")], opts)
    text = enc.decode(tokens)
    assert text.startswith("<|start|>system<|message|>")
    assert "<|start|>developer<|message|>" in text
    assert "Calls to these tools must go to the commentary channel: 'functions'." in text
    assert text.endswith("<|start|>user<|message|>Hello<|end|><|start|>assistant")


def test_prompt_prunes_finished_analysis_unless_told(enc, opts):
    history = [*_weather_history(), user("And in Rome?"), assistant("Call again.", "analysis")]
    pruned = enc.decode(render_prompt(history, opts))
    assert "Need the weather tool." not in pruned and "Call again." in pruned
    kept = enc.decode(render_prompt(history, opts, prune=False))
    assert "Need the weather tool." in kept and "Call again." in kept


def test_whole_conversation_round_trip(enc, opts):
    """system, developer, user, analysis, tool call, tool result, final -> tokens -> messages."""
    msgs = [system_message(opts), developer_message(opts), *_weather_history()]
    tokens = enc.render_conversation(Conversation.from_messages(msgs), RenderConversationConfig(auto_drop_analysis=False))
    parsed, deviations = parse_completion(tokens, enc, role=None)
    assert not deviations
    assert [(m.role, m.name, m.channel, m.recipient) for m in parsed] == [
        ("system", None, None, None), ("developer", None, None, None), ("user", None, None, None),
        ("assistant", None, "analysis", None), ("assistant", None, "commentary", "functions.get_weather"),
        ("tool", "functions.get_weather", "commentary", "assistant"), ("assistant", None, "final", None)]
    assert "Reasoning: high" in parsed[0].content and "You are Testy." in parsed[0].content
    assert "Answer in French." in parsed[1].content and "type get_weather" in parsed[1].content
    assert [m.content for m in parsed[2:]] == [
        "Weather in Paris?", "Need the weather tool.", '{"city":"Paris"}', '{"temp_c":21}', "Il fait 21 °C à Paris."]
    assert parsed[4].content_type == "<|constrain|>json" and parsed[4].tool_name == "get_weather"
    assert sum(m.tokens for m in parsed) == len(tokens)
    # the same as openai-harmony's own parser
    reference = enc.parse_messages_from_completion_tokens(tokens, None)
    assert [m.to_message().to_dict() for m in parsed[2:]] == [m.to_dict() for m in reference[2:]]


def test_assistant_turn_round_trip(enc, opts, completion_of):
    """The assistant messages after a rendered prompt parse back to what was rendered."""
    history = [user("Weather in Paris?")]
    replies = _weather_history()[1:3]  # analysis + tool call
    prompt = render_prompt(history, opts)
    assert enc.decode(prompt[-2:]) == "<|start|>assistant"
    parsed, deviations = parse_completion(completion_of(replies), enc)
    assert not deviations
    assert [m.to_message() for m in parsed] == replies
    # the parsed messages go back into the history and render where the model wrote them
    follow = render_prompt(history + [m.to_message() for m in parsed], opts)
    assert follow[:len(prompt)] == prompt
