"""The V4A patch format of gpt-oss's apply_patch: parse a patch; apply an update's hunks to a text.

No file system here (apply_patch.py resolves paths and writes). Matching follows the reference
implementation: a hunk's old lines (its ' ' and '-' lines) are searched forward from where the
previous hunk ended, first exactly, then ignoring trailing whitespace, then ignoring all
surrounding whitespace; an `@@ text` anchor moves the search past the next line equal to the text
(same three levels; several `@@` lines nest); `*** End of File` tries the end of the file first.
Where a match ignored indentation, added lines are re-indented like the file's matched lines.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

BEGIN, END, END_OF_FILE, MOVE_TO = "*** Begin Patch", "*** End Patch", "*** End of File", "*** Move to:"
_HEADER = re.compile(r"\*\*\* (Add|Update|Delete) File:\s*(.*)")
_UNIFIED_RANGE = re.compile(r"-\d+(,\d+)? \+\d+(,\d+)? @@")  # `@@ -1,3 +1,4 @@`: no anchor
_LEVELS: tuple[Callable[[str], str], ...] = (lambda s: s, str.rstrip, str.strip)


class PatchError(ValueError):
    """What is wrong with a patch, in one line."""


@dataclass(frozen=True)
class Hunk:
    line_no: int  # of the patch line that starts it
    anchors: tuple[str, ...]
    lines: tuple[tuple[str, str], ...]  # (" " | "-" | "+", text)
    at_eof: bool = False

    @property
    def old(self) -> list[str]:
        return [text for kind, text in self.lines if kind != "+"]


@dataclass(frozen=True)
class FileOp:
    kind: Literal["add", "update", "delete"]
    path: str
    line_no: int
    content: str = ""  # of an added file
    move_to: str | None = None
    hunks: tuple[Hunk, ...] = ()


# --- parsing -------------------------------------------------------------------------------------

def parse(text: str) -> list[FileOp]:
    """The file operations of a patch, in order; PatchError names the line that is wrong."""
    lines = [line.rstrip("\r") for line in text.split("\n")]
    numbered = [(n, line) for n, line in enumerate(lines, 1) if line.strip()]
    if not numbered:
        raise PatchError("empty patch: expected '*** Begin Patch' ... '*** End Patch'")
    first, last = numbered[0], numbered[-1]
    if first[1].strip() != BEGIN:
        raise PatchError(f"malformed patch: line {first[0]}: expected '{BEGIN}', got {first[1]!r}")
    if last[1].strip() != END or last is first:
        raise PatchError(f"malformed patch: line {last[0]}: expected '{END}' as the last line, got {last[1]!r}")
    body = list(enumerate(lines[first[0]:last[0] - 1], first[0] + 1))
    ops: list[FileOp] = []
    i = 0
    while i < len(body):
        n, line = body[i]
        header = _HEADER.fullmatch(line.rstrip())
        if not line.strip():
            i += 1
            continue
        if header is None:
            raise PatchError(f"malformed patch: line {n}: expected '*** Add File:', '*** Update File:' "
                             f"or '*** Delete File:', got {line!r}")
        kind, path = header.group(1).lower(), header.group(2).strip()
        if not path:
            raise PatchError(f"malformed patch: line {n}: no path after '*** {header.group(1)} File:'")
        end = next((j for j in range(i + 1, len(body)) if _HEADER.fullmatch(body[j][1].rstrip())), len(body))
        section = body[i + 1:end]
        if kind == "add":
            ops.append(FileOp("add", path, n, content=_added(section)))
        elif kind == "delete":
            _nothing(section, path)
            ops.append(FileOp("delete", path, n))
        else:
            ops.append(_update(path, n, section))
        i = end
    if not ops:
        raise PatchError("empty patch: no file operations between '*** Begin Patch' and '*** End Patch'")
    return ops


def _added(section: list[tuple[int, str]]) -> str:
    while section and not section[-1][1]:
        section = section[:-1]  # blank lines before the next header
    for n, line in section:
        if not line.startswith("+"):
            raise PatchError(f"malformed patch: line {n}: every line of an added file must start with '+', "
                             f"got {line!r}")
    return "".join(line[1:] + "\n" for _, line in section)


def _nothing(section: list[tuple[int, str]], path: str) -> None:
    for n, line in section:
        if line.strip():
            raise PatchError(f"malformed patch: line {n}: nothing may follow '*** Delete File: {path}', "
                             f"got {line!r}")


def _update(path: str, line_no: int, section: list[tuple[int, str]]) -> FileOp:
    move_to = None
    if section and section[0][1].startswith(MOVE_TO):
        move_to = section[0][1][len(MOVE_TO):].strip()
        if not move_to:
            raise PatchError(f"malformed patch: line {section[0][0]}: no path after '{MOVE_TO}'")
        section = section[1:]
    hunks: list[Hunk] = []
    anchors: list[str] = []
    lines: list[tuple[str, str]] = []
    blanks: list[tuple[str, str]] = []  # empty lines: context if more hunk lines follow
    start, closed = (section[0][0] if section else line_no), False

    def finish(at_eof: bool) -> None:
        nonlocal anchors, lines, blanks
        hunks.append(Hunk(start, tuple(anchors), tuple(lines), at_eof))
        anchors, lines, blanks = [], [], []

    for n, line in section:
        if line.startswith("@@"):
            if lines:
                finish(False)
            if not anchors:
                start = n
            anchor = line[2:].strip()
            if anchor and not _UNIFIED_RANGE.fullmatch(anchor):
                anchors.append(anchor)
            closed = False
        elif line.rstrip() == END_OF_FILE:
            if not lines:
                raise PatchError(f"malformed patch: line {n}: '{END_OF_FILE}' ends a hunk that has no lines")
            finish(True)
            closed = True
        elif closed:
            raise PatchError(f"malformed patch: line {n}: expected '@@' to start the next hunk, got {line!r}")
        elif line.startswith("***"):
            raise PatchError(f"malformed patch: line {n}: unexpected {line!r} in the update of {path}")
        elif not line:
            blanks.append((" ", ""))
        elif line[0] in " -+":
            lines += [*blanks, (line[0], line[1:])]
            blanks = []
        else:
            raise PatchError(f"malformed patch: line {n}: a hunk line must start with ' ', '-' or '+', "
                             f"got {line!r}")
    if lines:
        finish(False)
    elif anchors or (section and section[-1][1].startswith("@@")):
        raise PatchError(f"malformed patch: line {start}: '@@' starts a hunk that has no lines")
    if not hunks and move_to is None:
        raise PatchError(f"malformed patch: line {line_no}: '*** Update File: {path}' has no hunks")
    return FileOp("update", path, line_no, move_to=move_to, hunks=tuple(hunks))


# --- applying ------------------------------------------------------------------------------------

def apply_hunks(path: str, text: str, hunks: tuple[Hunk, ...]) -> str:
    """`text` with the hunks applied in order; PatchError when a hunk's context is not found."""
    eol = "\r\n" if "\r\n" in text else "\n"
    lines = text.split(eol) if text else []
    ends_with_eol = not lines or lines[-1] == ""
    if lines and lines[-1] == "":
        lines.pop()
    out: list[str] = []
    cursor = 0
    for hunk in hunks:
        start = cursor
        for anchor in hunk.anchors:
            start = _after_anchor(lines, anchor, start, path, hunk)
        found = _find(lines, hunk.old, start, hunk.at_eof)
        if found is None:
            wanted = next((t for t in hunk.old if t.strip()), hunk.old[0] if hunk.old else "")
            raise PatchError(f"{path}: context not found for the hunk at patch line {hunk.line_no}: "
                             f"no match for {wanted!r} (with the lines after it)")
        at, level = found
        out += lines[cursor:at]
        out += _merged(lines[at:at + len(hunk.old)], hunk, reindent=level == 2)
        cursor = at + len(hunk.old)
    out += lines[cursor:]
    return eol.join(out) + (eol if out and ends_with_eol else "")


def _after_anchor(lines: list[str], anchor: str, start: int, path: str, hunk: Hunk) -> int:
    """The index after the next line matching `anchor` from `start`; an anchor already passed
    (a second hunk in the same function) leaves `start` as it is, as the reference does."""
    for norm in _LEVELS:
        target = norm(anchor)
        for i in range(start, len(lines)):
            if norm(lines[i]) == target:
                return i + 1
    if any(line.strip() == anchor.strip() for line in lines[:start]):
        return start
    raise PatchError(f"{path}: context not found for the hunk at patch line {hunk.line_no}: "
                     f"no line matches '@@ {anchor}'")


def _find(lines: list[str], old: list[str], start: int, at_eof: bool) -> tuple[int, int] | None:
    """(index, fuzz level) of the first match of `old` from `start` (at the end first if at_eof)."""
    for level, norm in enumerate(_LEVELS):
        want = [norm(s) for s in old]
        have = [norm(s) for s in lines]
        if at_eof and len(lines) - len(old) >= start and have[len(lines) - len(old):] == want:
            return len(lines) - len(old), level
        if not at_eof:
            for i in range(start, len(lines) - len(old) + 1):
                if have[i:i + len(old)] == want:
                    return i, level
    if at_eof:  # the reference falls back to searching forward
        return _find(lines, old, start, False)
    return None


def _merged(region: list[str], hunk: Hunk, reindent: bool) -> list[str]:
    """The matched region after the hunk: the file's own context lines, the patch's added lines."""
    shift = _indent_shift(region, hunk.old) if reindent else None
    out, j = [], 0
    for kind, text in hunk.lines:
        if kind == " ":
            out.append(region[j])
        elif kind == "+":
            if shift and text.strip() and text.startswith(shift[1]):
                text = shift[0] + text[len(shift[1]):]
            out.append(text)
        j += kind != "+"
    return out


def _indent_shift(region: list[str], old: list[str]) -> tuple[str, str] | None:
    """(file's, patch's) base indentation when every line that differs (trailing whitespace
    aside) differs by just that."""
    pairs = [(a.rstrip(), b.rstrip()) for a, b in zip(region, old) if a.rstrip() != b.rstrip() and b.strip()]
    if not pairs:
        return None
    def indent(s: str) -> str:
        return s[:len(s) - len(s.lstrip())]

    file_base, patch_base = indent(pairs[0][0]), indent(pairs[0][1])
    for a, b in pairs:
        if not b.startswith(patch_base) or a != file_base + b[len(patch_base):]:
            return None
    return file_base, patch_base
