"""The offline task check catches broken references: bad Harmony, wrong tool arguments, wrong or
ungrounded answers, unexpected tool errors."""
from __future__ import annotations

from dataclasses import replace

import pytest

from harness.tasks.check import main, replay_problems, task_problems
from harness.tasks.reference import reference_problems
from harness.tasks.suite import load_suite

TASKS = {t.id: t for t in load_suite()}
FINAL = "<|channel|>final<|message|>done<|return|>"
CALL = '<|channel|>commentary to=functions.ui_pane <|constrain|>json<|message|>{"action": "list"}<|call|>'


def with_reference(task_id: str, *reference: str, **changes):
    return replace(TASKS[task_id], reference=tuple(reference), **changes)


def test_harmony_problems_are_named(enc):
    assert reference_problems(with_reference("ui_create_logs", CALL, FINAL), enc) == []
    recipient_first = CALL.replace("<|channel|>commentary to=functions.ui_pane ",
                                   " to=functions.ui_pane<|channel|>commentary ")
    assert reference_problems(with_reference("ui_create_logs", recipient_first, FINAL), enc) == []
    early_stop = CALL.replace("<|message|>", "<|message|>x<|return|>")
    assert any("a stop token" in p for p in reference_problems(with_reference("ui_create_logs", early_stop, FINAL), enc))
    no_call = "<|channel|>analysis<|message|>hmm<|call|>"
    assert any("its one tool call" in p for p in reference_problems(with_reference("ui_create_logs", no_call, FINAL), enc))
    last_calls = CALL.replace("<|call|>", "<|return|>")
    assert any("end on the final channel" in p for p in reference_problems(with_reference("ui_create_logs", last_calls), enc))
    bare = CALL.replace("to=functions.ui_pane", "to=ui_pane")
    found = reference_problems(with_reference("ui_create_logs", bare, FINAL), enc)
    assert found == ["reference deviations {'recipient_without_prefix': 1} differ from the declared {}"]
    declared = with_reference("ui_create_logs", bare, FINAL, reference_deviations={"recipient_without_prefix": 1})
    assert reference_problems(declared, enc) == []


def test_a_wrong_final_answer_fails_its_verifier(enc):
    task = TASKS["py_prime_sum"]
    wrong = with_reference("py_prime_sum", task.reference[0], "<|channel|>final<|message|>5736397<|return|>")
    assert any("verifiers[0] (numeric) fails" in p for p in replay_problems(wrong, enc))


def test_a_link_to_the_wrong_page_is_caught_though_the_answer_text_is_right(enc):
    task = TASKS["browser_observatory_mirror"]
    wrong_link = task.reference[1].replace('"id": 0', '"id": 1')   # another observatory's page
    broken = replace(task, reference=(task.reference[0], wrong_link, task.reference[2]))
    assert replay_problems(broken, enc) == ["verifiers[0] (numeric): the answer is not in any tool output"]
    task = TASKS["browser_station_distance"]
    wrong_link = task.reference[2].replace('"id": 1', '"id": 0')   # the lake page, not the stations
    broken = replace(task, reference=(*task.reference[:2], wrong_link, task.reference[3]))
    assert any("verifiers[1] (calls) fails:" in p and "parameter 'id': 0 is not among [1]" in p
               for p in replay_problems(broken, enc))


def test_an_unexpected_tool_error_is_reported(enc):
    task = TASKS["ui_build_alert"]
    bad = task.reference[1]
    broken = replace(task, reference=(task.reference[0], bad.replace("pane-1", "pane-9"), task.reference[2]))
    found = task_problems(broken, enc)
    assert any("reference[1]: functions.ui_pane gave error 'tool_error' (expected None)" in p for p in found)
    fixed = replace(TASKS["patch_retry_context"], reference_errors={})
    assert any("reference[0]: functions.apply_patch gave error 'tool_error'" in p for p in task_problems(fixed, enc))


def test_main_checks_files_and_exits_nonzero_on_problems(tmp_path, capsys):
    good = tmp_path / "good.yaml"
    good.write_text(
        "id: say_ready\nprompt: 'Reply: ready'\ntools: [ui_pane]\n"
        "verifiers: [{kind: no_call, answer: {kind: exact, expected: ready}}]\n"
        "reference: ['<|channel|>final<|message|>ready<|return|>']\n")
    assert main([str(good)]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("message|>ready", "message|>steady"))
    assert main([str(bad)]) == 1
    assert "task say_ready: verifiers[0] (no_call) fails" in capsys.readouterr().out
    assert main([str(tmp_path / "missing.yaml")]) == 2


@pytest.mark.parametrize("task_id", ["patch_bare_recipient", "patch_on_analysis"])
def test_the_deliberate_deviations_are_really_there(task_id, enc):
    task = TASKS[task_id]
    assert reference_problems(replace(task, reference_deviations={}), enc) != []
