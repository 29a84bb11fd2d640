"""`harness infer` as a user runs it: Harmony with tools over real HTTP (a replay server), raw, errors."""
from __future__ import annotations

import json

from cli_runner import harness

from harness.agent.transcript import parse_rlog
from harness.backends.replay import ReplayScripts
from harness.backends.replay_server import ReplayServer

PROMPT = "Open a pane called Notes."
SCRIPT = {PROMPT: [
    '<|channel|>analysis<|message|>Create the pane.<|end|><|start|>assistant<|channel|>commentary '
    'to=functions.ui_pane <|constrain|>json<|message|>{"action": "create", "title": "Notes", "pane_id": "p1"}'
    '<|call|>',
    '<|channel|>final<|message|>Done: pane p1 is open.<|return|>']}


def test_infer_streams_the_answer_and_reports_tools(tmp_path):
    with ReplayServer(ReplayScripts(SCRIPT)) as url:
        r = harness("infer", "--backend", "gpt-oss", "--url", url, "--tools", "ui_pane", "--record",
                    "--workspace", str(tmp_path), PROMPT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Done: pane p1 is open."
    assert "[call] functions.ui_pane" in r.stderr and "[result] functions.ui_pane" in r.stderr
    rlogs = list((tmp_path / "docs" / "logs").glob("*/*.rlog"))
    assert len(rlogs) == 1 and rlogs[0].with_suffix(".jsonl").is_file()
    header, entries = parse_rlog(rlogs[0].read_text())
    assert header["format"] == "rlog/1" and header["model"] == "gpt-oss"
    assert [t for t, _, _ in entries] == ["u", "th", "t!", "t", "a", "st"]
    state = json.loads(entries[-1][1].split(" ", 1)[1])
    assert [p["title"] for p in state["panes"]] == ["Notes"]


def test_infer_one_line_errors(tmp_path):
    cases = [
        (["--backend", "inprocess", "hi"], "--backend inprocess needs --model-path"),
        (["--raw", "--tools", "hi"], "--raw and --tools do not go together"),
        (["--tools", "browser,shell", "hi"], "unknown tool 'shell'"),
        (["--workspace", str(tmp_path / "missing"), "hi"], "not a folder"),
        (["--url", "http://127.0.0.1:9", "hi"], "127.0.0.1:9"),
    ]
    for args, expected in cases:
        r = harness("infer", *args, timeout=60)
        assert r.returncode in (1, 2), (args, r.stderr)
        assert expected in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_infer_raw_in_process(tiny_model):
    r = harness("infer", "--backend", "inprocess", "--model-path", str(tiny_model), "--raw", "--max-tokens", "8",
                "--n-ctx", "256", "Hello")
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith("\n") and len(r.stdout) > 1
