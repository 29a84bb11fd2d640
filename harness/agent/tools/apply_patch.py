"""The apply_patch tool: V4A patches applied inside one workspace, whole or not at all.

Declared as gpt-oss's reference declares it: a function tool `functions.apply_patch` whose one
parameter is the patch text (a string schema, "Formatted patch code"), with the format explained
by `INSTRUCTIONS` in the developer message. Paths are relative to the workspace; absolute paths,
`..` and any path that resolves outside the workspace (through a symlink, of the file or of a
directory above it) are refused. All new contents are computed before anything is written; a
failed write restores what was already written, so a patch changes every file it names or none.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from harness.agent.tools import v4a
from harness.agent.tools.base import Function, ToolError, function

EMPTY_PATCH = "*** Begin Patch\n*** End Patch\n"

INSTRUCTIONS = """\
# apply_patch

Use the `apply_patch` tool to create, edit, move and delete files. Its argument is the patch text
itself, in the format below (not JSON, not a unified diff). Paths are relative to the workspace
root; absolute paths and `..` are refused. A patch is applied whole or not at all.

A patch is an envelope around one or more file operations:

*** Begin Patch
[ one or more file operations ]
*** End Patch

Each operation starts with a header line:

*** Add File: <path>     create a new file; each following line is a line of it, prefixed with +
*** Delete File: <path>  delete an existing file; nothing follows
*** Update File: <path>  change an existing file; may be followed at once by
*** Move to: <new path>  to rename it as well

An update is made of hunks. A hunk starts with `@@`, optionally followed by a space and a line of
the file above the change (a class or function definition) that says where it is; use several
`@@` lines in a row for nested definitions. Every line of a hunk then starts with one character:

  (a space) context: a line that stays as it is
- a line to remove
+ a line to add

Show about three lines of context above and below each change, exactly as in the file, so the
place is unambiguous, and do not repeat context lines of the previous hunk. Hunks go in the
order of the file. A hunk that reaches the end of the file is followed by `*** End of File`.

Patch      := "*** Begin Patch" NEWLINE { FileOp } "*** End Patch" NEWLINE
FileOp     := AddFile | DeleteFile | UpdateFile
AddFile    := "*** Add File: " path NEWLINE { "+" line NEWLINE }
DeleteFile := "*** Delete File: " path NEWLINE
UpdateFile := "*** Update File: " path NEWLINE [ "*** Move to: " path NEWLINE ] { Hunk }
Hunk       := { "@@" [ " " header ] NEWLINE } { (" " | "-" | "+") line NEWLINE } [ "*** End of File" NEWLINE ]

Example:

*** Begin Patch
*** Add File: docs/notes.md
+# Notes
+The greeting is configurable.
*** Update File: src/greet.py
*** Move to: src/greeting.py
@@ class Greeter:
@@     def greet(self):
-        print("Hi")
+        print(f"Hello, {self.name}!")
*** Delete File: src/old_greet.py
*** End Patch

Remember: every operation needs its header line, and every line of an added file starts with `+`.
"""


@dataclass(frozen=True)
class _Change:
    """One file to write (`new`) or delete (`new` None), with what was there to restore."""

    path: Path  # resolved, inside the workspace
    new: bytes | None
    old: bytes | None
    mode: int | None = None  # permissions for `new` (a moved file keeps its own); None: as it is
    old_mode: int | None = None  # to restore a deleted file with


def _write(path: Path, data: bytes, mode: int | None) -> None:
    """Replace `path` by `data` in one rename, keeping its permissions (or taking `mode`)."""
    tmp = path.with_name(f".{path.name}.apply_patch-{os.getpid()}")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
        if mode is None and path.exists():
            mode = path.stat().st_mode
        if mode is not None:
            os.chmod(tmp, mode & 0o7777)
        os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def _missing_parents(path: Path) -> list[Path]:
    """The directories above `path` that do not exist yet, outermost first."""
    missing = []
    for parent in path.parents:
        if parent.exists():
            break
        missing.append(parent)
    return missing[::-1]


class ApplyPatch:
    """The `apply_patch` function tool, bound to one workspace directory."""

    name = "apply_patch"
    builtin = False
    instructions = INSTRUCTIONS

    def __init__(self, workspace: Path) -> None:
        root = Path(workspace).resolve()
        if not root.is_dir():
            raise ValueError(f"apply_patch workspace {workspace} is not a directory")
        self.root = root
        self.description = self.functions()[0].description

    def functions(self) -> list[Function]:
        return [function(self.apply_patch, "functions.apply_patch", freeform=True)]

    def state(self) -> dict[str, Any] | None:
        return None

    def apply_patch(self, patch: str = EMPTY_PATCH) -> str:
        """Patch a file.

        Args:
            patch: Formatted patch code
        """
        try:
            ops = v4a.parse(patch)
            changes, summary = self._plan(ops)
        except v4a.PatchError as exc:
            raise ToolError(str(exc)) from None
        self._commit(changes)
        return "Done: " + ", ".join(summary)

    # --- paths -----------------------------------------------------------------------------------

    def resolve(self, name: str) -> Path:
        """Where `name` leads inside the workspace, symlinks followed; ToolError if outside."""
        if "\0" in name:
            raise ToolError(f"{name!r}: a path may not contain a NUL character")
        if name.startswith(("/", "\\", "~")) or re.match(r"[A-Za-z]:[\\/]", name):
            raise ToolError(f"{name}: absolute paths are not allowed; give a path relative to the workspace")
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if ".." in parts:
            raise ToolError(f"{name}: '..' is not allowed in a path")
        if not parts:
            raise ToolError(f"{name!r}: not a file path")
        resolved = Path(os.path.realpath(self.root.joinpath(*parts)))
        if resolved == self.root:
            raise ToolError(f"{name}: is the workspace directory, not a file")
        if self.root not in resolved.parents:
            raise ToolError(f"{name}: leads outside the workspace (through a symlink)")
        return resolved

    # --- planning and writing ----------------------------------------------------------------------

    def _plan(self, ops: list[v4a.FileOp]) -> tuple[list[_Change], list[str]]:
        """Every change the patch makes, computed before anything is written, and its summary."""
        changes: list[_Change] = []
        summary: list[str] = []
        claimed: set[Path] = set()

        def claim(name: str) -> Path:
            path = self.resolve(name)
            if path in claimed:
                raise ToolError(f"{name}: named by more than one operation of the patch")
            claimed.add(path)
            return path

        for op in ops:
            path = claim(op.path)
            if op.kind == "add":
                if os.path.lexists(path):
                    raise ToolError(f"{op.path}: cannot add, the file already exists (update it instead)")
                changes.append(_Change(path, op.content.encode("utf-8", "surrogateescape"), None))
                summary.append(f"A {op.path}")
                continue
            old = self._read(path, op.path, "update" if op.kind == "update" else "delete")
            if op.kind == "delete":
                changes.append(_Change(path, None, old, old_mode=path.stat().st_mode))
                summary.append(f"D {op.path}")
                continue
            text = v4a.apply_hunks(op.path, old.decode("utf-8", "surrogateescape"), op.hunks)
            new = text.encode("utf-8", "surrogateescape")
            if op.move_to is None:
                changes.append(_Change(path, new, old))
                summary.append(f"M {op.path}")
                continue
            dest = claim(op.move_to)
            if os.path.lexists(dest):
                raise ToolError(f"{op.move_to}: cannot move {op.path} there, the file already exists")
            mode = path.stat().st_mode
            changes += [_Change(dest, new, None, mode), _Change(path, None, old, old_mode=mode)]
            summary.append(f"M {op.path} -> {op.move_to}")
        return changes, summary

    @staticmethod
    def _read(path: Path, name: str, action: str) -> bytes:
        if not path.exists():
            raise ToolError(f"{name}: cannot {action}, the file does not exist")
        if not path.is_file():
            raise ToolError(f"{name}: cannot {action}, it is not a regular file")
        return path.read_bytes()

    def _commit(self, changes: list[_Change]) -> None:
        """Write every change; on a failure undo the ones made and report the file that failed."""
        done: list[_Change] = []
        made: list[Path] = []
        try:
            for change in changes:
                if change.new is None:
                    change.path.unlink()
                else:
                    for directory in _missing_parents(change.path):
                        directory.mkdir()
                        made.append(directory)
                    _write(change.path, change.new, change.mode)
                done.append(change)
        except OSError as exc:
            failed = changes[len(done)].path.relative_to(self.root)
            undo_errors = self._undo(done, made)
            note = "no file was changed" if not undo_errors else f"could not restore: {', '.join(undo_errors)}"
            raise ToolError(f"{failed}: could not write ({exc.strerror or exc}); the patch was not "
                            f"applied and {note}") from None

    def _undo(self, done: list[_Change], made: list[Path]) -> list[str]:
        errors = []
        for change in reversed(done):
            try:
                if change.old is None:
                    change.path.unlink()
                else:
                    _write(change.path, change.old, change.old_mode)
            except OSError:
                errors.append(str(change.path.relative_to(self.root)))
        for directory in reversed(made):
            try:
                directory.rmdir()
            except OSError:
                pass
        return errors
