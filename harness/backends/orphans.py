"""Child processes: those that must not outlive the harness (Linux's parent-death signal, set between
fork and exec), and how one ended."""
from __future__ import annotations

import ctypes
import functools
import signal
import sys
import threading
from collections.abc import Callable

_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None
PR_SET_PDEATHSIG = 1


def _die_with_parent(sig: int) -> None:  # pragma: no cover - runs in the child, between fork and exec
    if _PRCTL is not None:  # die_with_parent hands this out only where prctl exists
        _PRCTL(PR_SET_PDEATHSIG, sig)


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A preexec_fn that sends the child `sig` when the thread that started it dies (even by SIGKILL),
    or None where that cannot hold: not Linux, or not the main thread (PR_SET_PDEATHSIG fires when
    the starting *thread* ends)."""
    if _PRCTL is None or threading.current_thread() is not threading.main_thread():
        return None
    return functools.partial(_die_with_parent, sig)


def describe_exit(code: int) -> str:
    """'SIGSEGV (signal 11)' for a death by signal, 'exit code N' otherwise."""
    if code < 0:
        try:
            return f"{signal.Signals(-code).name} (signal {-code})"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"
