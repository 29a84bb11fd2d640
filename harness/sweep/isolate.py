"""The sweep's side of the in-process worker (harness.sweep.worker): a crash becomes a row.

One worker is kept across points, so a model is loaded once per change of its load parameters;
only results cross the process boundary (the timed loop runs in the worker). When the worker dies
(a signal: SIGSEGV, SIGABRT, SIGBUS, SIGILL, SIGFPE; or killed: the OOM killer, SIGKILL) the point
raises WorkerCrashed naming the signal, the case it was in and llama.cpp's last log lines; the
next point starts a fresh worker. No worker outlives the sweep: it is stopped at exit, after
Ctrl-C, and on Linux it gets SIGKILL when the sweep process dies.
"""
from __future__ import annotations

import atexit
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from harness.backends.base import Unsupported
from harness.backends.orphans import describe_exit, die_with_parent
from harness.sweep.execute import Event

POLL_S = 0.05        # how often a waiting sweep checks that the worker lives (the timing is the worker's)
QUIT_WAIT_S = 5.0    # a worker asked to quit gets this long before SIGKILL
LOG_LINES = 3        # llama.cpp log lines quoted in a crashed row's error
REPACK_HINT = re.compile(r"CPU_REPACK|\bAMX\b|repack", re.IGNORECASE)


class WorkerCrashed(RuntimeError):
    """The worker process died inside a point (its message is the row's error)."""


class PointFailed(RuntimeError):
    """A point-level error the worker reported (the backend would not start, ...)."""


def log_tail(path: Path, n: int = LOG_LINES) -> list[str]:
    """The last n non-empty lines of a log file (empty when there is none)."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 16384))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []
    return [ln.strip() for ln in lines if ln.strip()][-n:]


def remedy(repack: Any, log: Path) -> str:
    """The likely cause when repack was on and this CPU has AMX or the load log shows repacked weights."""
    if repack is not True:
        return ""
    from harness.backends.inprocess import system_info
    amx = "AMX_INT8 = 1" in system_info()
    try:
        repacked = bool(REPACK_HINT.search(log.read_text(errors="replace")))
    except OSError:
        repacked = False
    if not (amx or repacked):
        return ""
    where = "this CPU has AMX" if amx else "the load log shows repacked weights"
    return (f"; likely cause: llama.cpp's CPU repack/AMX weight path ({where}; a known llama.cpp crash "
            "on AMX CPUs): run with backend.repack=false")


class Worker:
    """One `python -m harness.sweep.worker` process and its two pipes."""

    def __init__(self) -> None:
        child_in, self._to = os.pipe()
        self._from, child_out = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "harness.sweep.worker", str(child_in), str(child_out)],
                pass_fds=(child_in, child_out), stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches the sweep, which then stops the worker
                preexec_fn=die_with_parent(signal.SIGKILL))
        finally:
            os.close(child_in)
            os.close(child_out)
        self.jobs = Connection(self._to, readable=False)
        self.events = Connection(self._from, writable=False)
        self.busy = False  # inside a point: a stop kills at once (it would not read "quit")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _next(self) -> tuple[Any, ...] | None:
        """The next event (an error event has a third item), or None once the worker has died and left
        nothing unread."""
        while not self.events.poll(POLL_S):
            if self.proc.poll() is not None and not self.events.poll(0):
                return None
        try:
            event: tuple[Any, ...] = self.events.recv()
            return event
        except (EOFError, OSError):
            return None

    def run(self, cfg: Any, path: Path | None, point: int, log: Path) -> Iterator[Event]:
        """Run one point in the worker; its events as they come. WorkerCrashed if it dies."""
        config = OmegaConf.to_container(cfg, resolve=True)
        case, t_case = "the model load", time.monotonic()
        self.busy = True
        try:
            self.jobs.send(("run", config, str(path) if path else None, point, str(log)))
        except OSError:  # it died between points
            self.proc.wait()
        while True:
            event = self._next()
            if event is None:
                code = self.proc.wait()
                tail = " | ".join(ln[:200] for ln in log_tail(log))
                raise WorkerCrashed(
                    f"llama.cpp's process died: {describe_exit(code)} in {case} after "
                    f"{time.monotonic() - t_case:.1f} s; last llama.cpp log: {tail or 'none'}"
                    f"{remedy(cfg.backend.get('repack'), log)}")
            kind, payload = event[0], event[1]
            if kind in ("done", "error"):
                self.busy = False
            if kind == "done":
                return
            if kind == "error":
                raise (Unsupported if payload == "unsupported" else PointFailed)(event[2])
            if kind == "case":
                case, t_case = payload, time.monotonic()
            yield event

    def stop(self) -> None:
        """Ask the worker to quit, then SIGKILL it; safe to call twice."""
        if self.alive() and self.busy:
            self.proc.kill()
        elif self.alive():
            try:
                self.jobs.send(("quit",))
                self.proc.wait(QUIT_WAIT_S)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
        self.proc.wait()
        for conn in (self.jobs, self.events):
            conn.close()


_WORKER: dict[str, Worker] = {}


def ensure() -> Worker:
    """The kept worker, or a fresh one when there is none or it died."""
    w = _WORKER.get("worker")
    if w is None or not w.alive():
        release()
        w = _WORKER["worker"] = Worker()
    return w


def release() -> None:
    """Stop the kept worker, if any."""
    w = _WORKER.pop("worker", None)
    if w is not None:
        w.stop()


atexit.register(release)
