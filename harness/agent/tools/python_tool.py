"""The python tool: the model's code runs as a script in a fresh, contained Python process.

Stateless, like gpt-oss's reference python tool: each call is a new process in a new empty
directory, and only what the code prints comes back (no Jupyter-style echo of a last
expression); the description in the system message says so, and says which containment this
machine allows (measured by the sandbox's probe when the tool is built).

Where the sandbox cannot give the program a filesystem view of its own (the user's files would
be open to it), the tool refuses to start (`UncontainedError`, one line) unless built with
`unsafe=True` (`harness infer --unsafe-python`, `workload.unsafe_python=true`); `level` says
what holds, for transcripts and result rows.
"""
from __future__ import annotations

import signal
import sys
from typing import Any

from harness.agent.tools.base import Function, ToolError, function
from harness.agent.tools.sandbox import Containment, Limits, Outcome, Sandbox, SandboxError

UNSAFE_HINT = "--unsafe-python for harness infer, workload.unsafe_python=true for the agent workload"


class UncontainedError(SandboxError):
    """The sandbox cannot hide the user's files here, and running uncontained was not asked for."""


def containment_line(containment: Containment) -> str:
    """One line for stderr at start: the level, and what it leaves open."""
    line = f"python tool containment: {containment.level}"
    return line if containment.files_hidden else line + " (UNSAFE: the program can read and write your files)"

PYTHON_ARGV = [sys.executable, "-I", "-u", "-X", "utf8", "-"]  # the code comes on stdin

_INTRO = (
    "Use this tool to execute Python code in your chain of thought. The code will not be shown to "
    "the user. This tool should be used for internal reasoning, but not for code that is intended "
    "to be visible to the user (e.g. when creating plots, tables, or files).")


def describe(limits: Limits, containment: Containment) -> str:
    """The system message's description of the python namespace, true to what is contained here."""
    version = ".".join(map(str, sys.version_info[:2]))
    run = (f"When you send a message containing Python code to python, it will be run as a script "
           f"by a fresh Python {version} process. The tool is stateless: nothing (variables, imports, "
           f"files) carries over from one call to the next. Only what the code prints is returned to "
           f"you, with its stderr and exit status; the value of a last expression is not shown, so "
           f"use print() to see values. python will time out after {limits.timeout_s:g} seconds.")
    place = "The code runs in an empty temporary directory that is deleted afterwards"
    if containment.files_hidden:
        place += (", in a filesystem of its own (the Python installation and system libraries "
                  f"read-only, a private /tmp, {limits.disk_mb} MiB writable in all)")
    if containment.memory_limited:
        place += f", with {limits.memory_mb} MiB of memory per process"
    if containment.total_memory_limited:
        place += f", {limits.total_mb} MiB for all its processes together"
    if containment.procs_limited:
        place += f" and at most {limits.max_procs} further processes or threads"
    place += "."
    if not containment.memory_limited:
        place += " Memory use is not limited on this system; keep it modest."
    if containment.network_cut:
        net = "Internet access for this session is disabled."
    else:
        net = ("Network access could not be disabled on this system; do not make external web "
               "requests or API calls.")
    return "\n\n".join([_INTRO, f"{run} {place} {net}"])


def _status(outcome: Outcome, limits: Limits) -> str:
    """The last line of a result: how the process ended."""
    if outcome.oom_killed:
        how = (f"killed by {signal.Signals(outcome.signal).name}" if outcome.signal is not None
               else f"exit status {outcome.exit_code}")
        return f"[{how}: total memory limit of {limits.total_mb} MiB reached, a process was killed]"
    if outcome.signal is not None:
        name = signal.Signals(outcome.signal).name
        cpu_signals = (signal.SIGXCPU, signal.SIGKILL)
        if outcome.signal in cpu_signals and outcome.cpu_s >= limits.cpu_seconds - 0.5:
            return f"[killed by {name}: CPU time limit of {limits.cpu_seconds} s reached]"
        return f"[killed by {name}]"
    last = outcome.stderr.text.rstrip().rsplit("\n", 1)[-1]
    if outcome.exit_code != 0 and last.startswith("MemoryError"):
        return f"[exit status {outcome.exit_code}: memory limit of {limits.memory_mb} MiB reached]"
    return f"[exit status {outcome.exit_code}]"


def render(outcome: Outcome, limits: Limits) -> str:
    """stdout as printed, then `[stderr]` and its text when there is any, then the status line."""
    parts = []
    if outcome.stdout.text:
        parts.append(outcome.stdout.text.rstrip("\n"))
    if outcome.stderr.text:
        parts.append("[stderr]\n" + outcome.stderr.text.rstrip("\n"))
    if not parts:
        parts.append("[no output]")
    if not outcome.timed_out:
        parts.append(_status(outcome, limits))
    return "\n".join(parts)


def _why(containment: Containment) -> str:
    if not containment.setup.own_view:
        return containment.failed or f"no filesystem view on {sys.platform}"
    return "the view let a file outside it through"


class PythonTool:
    """The built-in `python` tool; its one function takes the message content as the code."""

    name = "python"
    builtin = True

    def __init__(self, timeout_s: float = 30.0, *, memory_mb: int = 1024, max_procs: int = 32,
                 file_mb: int = 64, output_bytes: int = 20_000, cpu_s: int | None = None,
                 disk_mb: int = 256, containment: Containment | None = None, unsafe: bool = False) -> None:
        self.limits = Limits(timeout_s=timeout_s, memory_mb=memory_mb, max_procs=max_procs,
                             file_mb=file_mb, output_bytes=output_bytes, cpu_s=cpu_s, disk_mb=disk_mb)
        self.sandbox = Sandbox(self.limits, containment)
        self.level = self.sandbox.containment.level
        if not self.sandbox.containment.files_hidden and not unsafe:
            raise UncontainedError(
                "python tool refused: this machine cannot hide your files from the program "
                f"(containment {self.level}: {_why(self.sandbox.containment)}); to run it anyway: {UNSAFE_HINT}")
        self.description = describe(self.limits, self.sandbox.containment)

    def functions(self) -> list[Function]:
        return [function(self.run, "python", freeform=True)]

    def state(self) -> dict[str, Any] | None:
        return None

    def run(self, code: str) -> str:
        """Run a Python program in a fresh, contained process; return its output and exit status.

        Args:
            code: The Python program to run.
        """
        if not code.strip():
            raise ToolError("python: the message holds no code to run")
        try:
            outcome = self.sandbox.run(PYTHON_ARGV, code.encode("utf-8", "surrogateescape"))
        except SandboxError as exc:
            raise ToolError(f"python: the sandbox could not start: {exc}") from None
        text = render(outcome, self.limits)
        if outcome.timed_out:
            killed = ("the process and everything it started were killed"
                      if self.sandbox.containment.reaps_leftovers else "its process group was killed")
            raise ToolError(f"python timed out after {self.limits.timeout_s:g} s; {killed}. "
                            f"Output until then:\n{text}", "timeout")
        return text
