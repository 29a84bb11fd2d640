"""prune_analysis: finished turns lose their analysis, the turn still calling tools keeps it."""
from __future__ import annotations

from harness.harmony import HarmonyOptions, assistant, prune_analysis, system_message, tool_call, tool_result, user


def _texts(messages):
    return [m.content[0].text for m in messages]


def test_two_turns_keep_only_unfinished_analysis():
    history = [
        user("Weather in Paris?"),
        assistant("T1: call the tool.", "analysis"),
        tool_call("get_weather", '{"city":"Paris"}'),
        tool_result("get_weather", "21"),
        assistant("T1: got it.", "analysis"),
        assistant("21 °C."),
        user("And Rome?"),
        assistant("T2: call again.", "analysis"),
        tool_call("get_weather", '{"city":"Rome"}'),
        tool_result("get_weather", "25"),
        assistant("T2: now answer.", "analysis"),
    ]
    pruned = prune_analysis(history)
    assert _texts(pruned) == ['Weather in Paris?', '{"city":"Paris"}', "21", "21 °C.", "And Rome?",
                              "T2: call again.", '{"city":"Rome"}', "25", "T2: now answer."]
    assert len(history) == 11 and _texts(history)[1] == "T1: call the tool."  # input untouched


def test_every_finished_turn_is_pruned_not_only_the_first():
    history = [user("q1"), assistant("a1", "analysis"), assistant("f1"),
               user("q2"), assistant("a2", "analysis"), assistant("f2"),
               user("q3"), assistant("a3", "analysis"), assistant("f3")]
    assert _texts(prune_analysis(history)) == ["q1", "f1", "q2", "f2", "q3", "f3"]


def test_builtin_tool_exchange_on_analysis_goes_with_the_turn():
    history = [user("2**10?"), tool_call("python", "print(2**10)", channel="analysis"),
               tool_result("python", "1024", channel="analysis"), assistant("1024"), user("thanks")]
    assert _texts(prune_analysis(history)) == ["2**10?", "1024", "thanks"]


def test_messages_before_the_first_user_and_commentary_stay():
    sysmsg = system_message(HarmonyOptions())
    history = [sysmsg, user("hi"), assistant("preamble", "commentary"), assistant("think", "analysis"), assistant("hello")]
    assert prune_analysis(history) == [sysmsg, *history[1:3], history[4]]
    assert prune_analysis([]) == []
