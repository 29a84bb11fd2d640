"""Verifiers of the workspace after the run: files present or absent, a command that passes.

The command runs code the model wrote: with a bare environment (none of the parent's secrets),
in a session of its own that is killed whole at the timeout. It is not inside the python tool's
sandbox, whose runs always start in an empty directory of their own.
"""
from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from harness.agent.outcome import Outcome
from harness.tasks.spec import SpecError, check_keys, compile_regex, get, get_str_list, show
from harness.tasks.verdict import Verdict, fail, ok


def workspace_path(value: Any, key: str) -> str:
    """A relative path inside the workspace: no absolute path, no `..`."""
    if not isinstance(value, str) or not value.strip():
        raise SpecError(key, value, "expected a relative path inside the workspace")
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts or "\\" in value:
        raise SpecError(key, value, "expected a relative path inside the workspace (no absolute path, no ..)")
    return value


class FileCheck:
    """A file of the workspace exists and (optionally) equals, contains or matches the expected text."""

    kind = "file"

    def __init__(self, path: str, equals: str | None = None, contains: list[str] | None = None,
                 regex: re.Pattern[str] | None = None) -> None:
        self.path, self.equals, self.contains, self.regex = path, equals, contains or [], regex

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], where: str) -> FileCheck:
        check_keys(spec, ("kind", "path", "equals", "contains", "regex", "flags"), where)
        regex = compile_regex(spec, where, "regex") if "regex" in spec else None
        return cls(workspace_path(spec.get("path"), f"{where}.path"), get(spec, "equals", str, where, None),
                   get_str_list(spec, "contains", where, default=[]), regex)

    def check(self, outcome: Outcome, task: Any) -> Verdict:
        if outcome.workspace is None:
            return fail("the episode has no workspace")
        file = outcome.workspace / self.path
        if not file.is_file():
            return fail(f"{self.path} is missing from the workspace")
        text = file.read_text(encoding="utf-8", errors="replace")
        if self.equals is not None and text != self.equals:
            return fail(f"{self.path} differs from the expected content: {show(text)}")
        for piece in self.contains:
            if piece not in text:
                return fail(f"{self.path} does not contain {piece!r}")
        if self.regex is not None and not self.regex.search(text):
            return fail(f"{self.path} does not match /{self.regex.pattern}/")
        return ok()


class FileAbsent:
    """None of `path` exists in the workspace after the run (deleted, or never created)."""

    kind = "file_absent"

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], where: str) -> FileAbsent:
        check_keys(spec, ("kind", "path"), where)
        return cls([workspace_path(p, f"{where}.path") for p in get_str_list(spec, "path", where)])

    def check(self, outcome: Outcome, task: Any) -> Verdict:
        if outcome.workspace is None:
            return fail("the episode has no workspace")
        present = [p for p in self.paths if (outcome.workspace / p).exists()]
        return fail(f"{', '.join(present)} should be absent") if present else ok()


def _run(argv: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run `argv` in `cwd` with only PATH, HOME (the workspace) and a UTF-8 locale in its
    environment (none of the parent's secrets), in a session of its own that is killed whole
    at the timeout. It runs the code the model wrote, outside the python tool's sandbox."""
    env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(cwd), "LANG": "C.UTF-8",
           "PYTHONDONTWRITEBYTECODE": "1"}
    with subprocess.Popen(argv, cwd=cwd, env=env, text=True, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()  # not reading on: a process that left the session may hold the pipes
            raise
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


class CommandCheck:
    """A command run in the workspace exits with `exit_code` (0) within `timeout` seconds;
    `python` as the program is this interpreter (sys.executable)."""

    kind = "command"

    def __init__(self, argv: list[str], timeout: float = 60.0, exit_code: int = 0,
                 stdout_contains: str | None = None) -> None:
        self.argv, self.timeout, self.exit_code = argv, timeout, exit_code
        self.stdout_contains = stdout_contains

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], where: str) -> CommandCheck:
        check_keys(spec, ("kind", "run", "timeout", "exit_code", "stdout_contains"), where)
        run = spec.get("run")
        argv = shlex.split(run) if isinstance(run, str) else run
        if not argv or not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
            raise SpecError(f"{where}.run", run, "expected a command line or a list of arguments")
        timeout = get(spec, "timeout", float, where, 60.0)
        if timeout <= 0:
            raise SpecError(f"{where}.timeout", timeout, "expected seconds > 0")
        return cls(argv, timeout, get(spec, "exit_code", int, where, 0),
                   get(spec, "stdout_contains", str, where, None))

    def check(self, outcome: Outcome, task: Any) -> Verdict:
        if outcome.workspace is None:
            return fail("the episode has no workspace")
        argv = [sys.executable if self.argv[0] == "python" else self.argv[0], *self.argv[1:]]
        try:
            done = _run(argv, outcome.workspace, self.timeout)
        except subprocess.TimeoutExpired:
            return fail(f"`{shlex.join(self.argv)}` ran past {self.timeout:g} s")
        except OSError as exc:
            return fail(f"`{shlex.join(self.argv)}` could not start: {exc.strerror or exc}")
        tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
        if done.returncode != self.exit_code:
            return fail(f"`{shlex.join(self.argv)}` exited {done.returncode} (expected {self.exit_code}): "
                        + " | ".join(tail))
        if self.stdout_contains is not None and self.stdout_contains not in done.stdout:
            return fail(f"`{shlex.join(self.argv)}` printed no {self.stdout_contains!r}")
        return ok()
