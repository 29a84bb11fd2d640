"""Test-only fault injection: make the in-process worker die inside a point, on any machine.

HARNESS_FAULT="ACTION,decode=N[,point=P]" arms the worker: at its Nth decode call of the point
(a prompt batch, a generated token, or one tg run), ACTION happens: a signal name (SIGSEGV,
SIGABRT, SIGBUS, SIGILL, SIGFPE, SIGKILL) is raised against the worker itself, as llama.cpp's
native code would die; `sleep:S` stalls S seconds (a long point to interrupt). `slow:SHARE` fires
on every decode call instead: after each it spins for SHARE times the call's own measured time, so
the per-token work is that share slower (slow:0.05: a build 5% slower, what the paired gate must catch).
With `point=P` only the sweep point numbered P is armed. Nothing reads it but the worker; a bad
value is one line.
"""
from __future__ import annotations

import functools
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ENV = "HARNESS_FAULT"
SIGNALS = ("SIGSEGV", "SIGABRT", "SIGBUS", "SIGILL", "SIGFPE", "SIGKILL")


class FaultSpecError(ValueError):
    pass


@dataclass(frozen=True)
class Fault:
    action: str
    decode: int = 1
    point: int | None = None

    def applies(self, point: int) -> bool:
        return self.point is None or self.point == point

    @property
    def slow_share(self) -> float | None:
        """The share of each decode's time added after it, for a slow:SHARE fault."""
        return float(self.action.split(":", 1)[1]) if self.action.startswith("slow:") else None

    def fire(self) -> None:
        if self.action.startswith("sleep:"):
            time.sleep(float(self.action.split(":", 1)[1]))
        else:
            os.kill(os.getpid(), getattr(signal, self.action))


def parse(text: str) -> Fault | None:
    """The fault HARNESS_FAULT describes, None when it is empty."""
    if not text.strip():
        return None
    action, *pairs = [p.strip() for p in text.split(",")]
    if action not in SIGNALS and not _timed(action):
        raise FaultSpecError(f"{ENV}={text!r}: action {action!r} is not one of {', '.join(SIGNALS)}, "
                             "sleep:SECONDS or slow:SHARE (a number >= 0)")
    fields: dict[str, int] = {}
    for pair in pairs:
        k, _, v = pair.partition("=")
        if k not in ("decode", "point") or not v.isdigit():
            raise FaultSpecError(f"{ENV}={text!r}: {pair!r} is not decode=N or point=N")
        fields[k] = int(v)
    return Fault(action, **fields)


def _timed(action: str) -> bool:
    """sleep:SECONDS or slow:SHARE with a number >= 0."""
    kind, _, value = action.partition(":")
    try:
        return kind in ("sleep", "slow") and float(value) >= 0
    except ValueError:
        return False


def arm(backend: Any, fault: Fault) -> Any:
    """Wrap the backend's decode calls so the Nth one fires the fault (first, before llama.cpp runs),
    or, for slow:SHARE, so every call spins SHARE of its own time after it (inside the timed run)."""
    count = [0]
    share = fault.slow_share

    def counted(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            if share is not None:
                t0 = time.perf_counter()
                out = fn(*args, **kwargs)
                end = time.perf_counter() + share * (time.perf_counter() - t0)
                while time.perf_counter() < end:  # busy, like more work: a sleep wakes late on a loaded machine
                    pass
                return out
            count[0] += 1
            if count[0] == fault.decode:
                fault.fire()
            return fn(*args, **kwargs)
        return call

    for name in ("decode", "decode_each"):
        if hasattr(backend, name):
            setattr(backend, name, counted(getattr(backend, name)))
    return backend
