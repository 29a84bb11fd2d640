"""Session transcripts: the seed's rlog/1 text format plus a JSONL twin with every detail.

Written under `<workspace>/docs/logs/YYYYMMDD/` as `<HHMMSS>-<id>.rlog` and `.jsonl`, a line at a
time (appended and flushed), so a session that dies keeps what it did.

rlog/1: a header between `---` lines (format, id, agent, model, cwd, started), then one line per
message, the text escaped (backslash, newline, carriage return) and the time at the end:

    u: <user text> ts=<ISO-8601 UTC>
    th: <assistant analysis or commentary> ts=...
    t!: <recipient> <call arguments> ts=...        a tool call
    t: <tool> <result text> ts=...                  a tool's answer (an error result starts `Error:`)
    a: <final answer> ts=...
    st: <tool> <JSON state> ts=...                  a tool's state at the end (ui_pane's panes)

The JSONL twin holds every message with role, author, channel, recipient, content type, token
counts and timings (kind: user | assistant | tool_result | state | end).
"""
from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any, TextIO

from openai_harmony import Message, TextContent

from harness.harmony import ParsedMessage

FORMAT = "rlog/1"


def escape(text: str) -> str:
    """One line: backslashes, newlines and carriage returns escaped."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


def unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append({"n": "\n", "r": "\r", "\\": "\\"}.get(text[i + 1], text[i + 1]))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _fields(msg: ParsedMessage | Message) -> dict[str, Any]:
    """role, author name, channel, recipient, content type and text of either message kind."""
    if isinstance(msg, ParsedMessage):
        return {"role": msg.role, "author": msg.name, "channel": msg.channel, "recipient": msg.recipient,
                "content_type": msg.content_type, "content": msg.content}
    text = "".join(c.text for c in msg.content if isinstance(c, TextContent))
    return {"role": msg.author.role.value, "author": msg.author.name, "channel": msg.channel,
            "recipient": msg.recipient, "content_type": msg.content_type, "content": text}


def rlog_line(kind: str, f: dict[str, Any], ts: str) -> str:
    """The rlog/1 line of one message."""
    if kind == "user":
        tag, text = "u", f["content"]
    elif kind == "tool_result":
        tag, text = "t", f"{f['author']} {f['content']}"
    elif f["recipient"] and f["recipient"] != "assistant":
        tag, text = "t!", f"{f['recipient']} {f['content']}"
    elif f["channel"] == "final":
        tag, text = "a", f["content"]
    else:
        tag, text = "th", f["content"]
    return f"{tag}: {escape(text)} ts={ts}"


def parse_rlog(text: str) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """(header, [(tag, text, ts)]) of an rlog/1 file: the reader of what `Transcript` writes."""
    lines = text.splitlines()
    if not lines or lines[0] != "---":
        raise ValueError("not an rlog file: it must start with a '---' header line")
    end = lines.index("---", 1)
    header = dict(ln.split(": ", 1) for ln in lines[1:end])
    entries = []
    for ln in lines[end + 1:]:
        tag, _, rest = ln.partition(": ")
        body, _, ts = rest.rpartition(" ts=")
        entries.append((tag, unescape(body), ts))
    return header, entries


class Transcript:
    """Appends a session's messages to an rlog/1 file and its JSONL twin as they happen."""

    def __init__(self, workspace: Path, *, model: str, agent: str = "harness", session_id: str | None = None,
                 cwd: Path | None = None) -> None:
        now = dt.datetime.now(dt.UTC)
        self.id = session_id or uuid.uuid4().hex[:12]
        folder = Path(workspace) / "docs" / "logs" / now.strftime("%Y%m%d")
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{now.strftime('%H%M%S')}-{self.id}"
        self.rlog_path, self.jsonl_path = folder / f"{stem}.rlog", folder / f"{stem}.jsonl"
        self._rlog: TextIO = self.rlog_path.open("a", encoding="utf-8")
        self._jsonl: TextIO = self.jsonl_path.open("a", encoding="utf-8")
        header = {"format": FORMAT, "id": self.id, "agent": agent, "model": model,
                  "cwd": str(cwd or workspace), "started": _now()}
        self._write_rlog("---\n" + "".join(f"{k}: {escape(v)}\n" for k, v in header.items()) + "---")

    def _write_rlog(self, line: str) -> None:
        self._rlog.write(line + "\n")
        self._rlog.flush()

    def _write_json(self, record: dict[str, Any]) -> None:
        self._jsonl.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self._jsonl.flush()

    def __call__(self, kind: str, msg: ParsedMessage | Message, info: dict[str, Any]) -> None:
        """Session.on_message: one message, as it happens."""
        ts = _now()
        f = _fields(msg)
        self._write_rlog(rlog_line(kind, f, ts))
        self._write_json({"ts": ts, "kind": kind, **f, **info})

    def state(self, tool: str, state: Any) -> None:
        ts = _now()
        self._write_rlog(f"st: {tool} {escape(json.dumps(state, sort_keys=True))} ts={ts}")
        self._write_json({"ts": ts, "kind": "state", "tool": tool, "state": state})

    def end(self, summary: dict[str, Any]) -> None:
        """The session's totals (turns, tokens, timings, why it ended) into the JSONL twin."""
        self._write_json({"ts": _now(), "kind": "end", **summary})

    def close(self) -> None:
        for f in (self._rlog, self._jsonl):
            if not f.closed:
                f.close()
