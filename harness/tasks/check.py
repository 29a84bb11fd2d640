"""Check tasks offline: the reference parses cleanly and, replayed through the real tools, passes.

    python -m harness.tasks.check [FILE.yaml ...]     # default: the shipped suite

For each task: reference_problems (tokens, stops, deviations, canonical form); then each call of
the reference goes through the task's tools (Toolset.call, in a fresh workspace laid out from the
fixture), the final answer and the episode go through the task's verifiers, and every call must
succeed except those `reference_errors` expects. An answer on the final channel must also be
grounded: a task that used browser or python must have seen its answer in their output, so a
corpus change that sends `open(id=...)` to another page is caught, not passed on a fixed text.
Prints one line per problem and exits 1 if there is any.
"""
from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path

from openai_harmony import HarmonyEncoding

from harness.agent.outcome import Call, Outcome
from harness.agent.toolbox import make_toolset
from harness.agent.tools.base import Toolset
from harness.errors import fail
from harness.tasks.reference import reference_problems, reference_turns
from harness.tasks.suite import Task, TaskError, load_file, load_suite
from harness.tasks.verdict import Verifier
from harness.tasks.verifiers import ExactAnswer, NoCall, NumericAnswer, RegexAnswer, normalise, numbers_in

INFORMING_TOOLS = ("browser", "python")  # tools whose output an answer can come from


def _call(toolset: Toolset, recipient: str, content: str, channel: str | None, error: str | None) -> Call:
    """A Call as the session records it: JSON arguments parsed, freeform ones kept as text."""
    func = toolset.resolve(recipient)
    args: object = content
    if func is not None and not func.freeform:
        try:
            args = json.loads(content)
        except ValueError:
            args = None
    return Call(recipient, func.name if func else recipient, args, channel, error)


def replay(task: Task, workspace: Path, encoding: HarmonyEncoding | None = None) -> tuple[Outcome, list[str]]:
    """Run the reference's calls through the task's real tools; the Outcome and the tool outputs."""
    task.prepare_workspace(workspace)
    toolset = make_toolset(task.tools, workspace)
    calls: list[Call] = []
    outputs: list[str] = []
    final = None
    for turn in reference_turns(task, encoding):
        for msg in turn.calls:
            result = toolset.call(msg.recipient or "", msg.content)
            calls.append(_call(toolset, msg.recipient or "", msg.content, msg.channel, result.error))
            outputs.append(result.text)
        final = turn.final if turn.final is not None else final
    state = {t.name: t.state() for t in toolset.tools if t.state() is not None}
    return Outcome(final=final, calls=calls, workspace=workspace, tool_state=state), outputs


def grounded(verifier: Verifier, outputs: str) -> bool:
    """Whether the tool outputs hold what an answer verifier expects."""
    if isinstance(verifier, NumericAnswer):
        return any(math.isclose(x, verifier.expected, rel_tol=verifier.rel_tol, abs_tol=verifier.abs_tol)
                   for x in numbers_in(outputs))
    if isinstance(verifier, RegexAnswer):
        return verifier.pattern.search(outputs) is not None
    if isinstance(verifier, ExactAnswer):
        return any(normalise(e) in normalise(outputs) for e in verifier.expected)
    return True


def replay_problems(task: Task, encoding: HarmonyEncoding | None = None) -> list[str]:
    """What fails when the reference is replayed through the real tools and verified."""
    with tempfile.TemporaryDirectory(prefix=f"task-{task.id}-") as tmp:
        outcome, outputs = replay(task, Path(tmp), encoding)
        problems = []
        for i, call in enumerate(outcome.calls):
            turn = i  # one call per completion: the call index is the completion index
            want = task.reference_errors.get(turn)
            if call.error != want:
                problems.append(f"reference[{turn}]: {call.recipient} gave error {call.error!r} "
                                f"(expected {want!r}): {outputs[i][:200]!r}")
        for i, verifier in enumerate(task.verifiers):
            verdict = verifier.check(outcome, task)
            if not verdict.passed:
                problems.append(f"verifiers[{i}] ({verifier.kind}) fails: {verdict.reason}")
        if any(t in INFORMING_TOOLS for t in task.tools) and outcome.calls:
            seen = "\n".join(outputs)
            for i, verifier in enumerate(task.verifiers):
                inner = verifier.answer if isinstance(verifier, NoCall) else verifier
                if inner is not None and not grounded(inner, seen):
                    problems.append(f"verifiers[{i}] ({verifier.kind}): the answer is not in any tool output")
        return problems


def task_problems(task: Task, encoding: HarmonyEncoding | None = None) -> list[str]:
    """Every problem of a task: its reference's form, then its replay (when the form is sound)."""
    found = reference_problems(task, encoding)
    return found or replay_problems(task, encoding)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        tasks = [t for a in args for t in load_file(Path(a))] if args else load_suite()
    except TaskError as exc:
        return fail("harness", str(exc))
    bad = 0
    for task in tasks:
        for problem in task_problems(task):
            print(f"{task.source}: task {task.id}: {problem}")
            bad += 1
    print(f"{len(tasks)} task(s), {bad} problem(s)", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
