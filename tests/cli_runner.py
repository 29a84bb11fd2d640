"""Run the `harness` console script as a user would (tests/ is on sys.path under pytest)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def harness(*args: str, cwd: Path | None = None, timeout: float = 600,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the `harness` console script as a user would (`env`: variables set on top of ours)."""
    exe = Path(sys.executable).with_name("harness")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=cwd or ROOT,
                          timeout=timeout, env={**os.environ, **(env or {})})


def harness_killed_after(marker: Path, *args: str, timeout: float = 120) -> None:
    """Run `harness *args` and SIGKILL it as soon as `marker` exists (it must appear before the end)."""
    exe = Path(sys.executable).with_name("harness")
    proc = subprocess.Popen([str(exe), *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=os.environ.copy())
    try:
        deadline = time.monotonic() + timeout
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() < deadline, f"harness ended before {marker} existed"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)


def ctrl_c_reaches_it() -> None:
    """preexec_fn of a child a test interrupts: SIGINT back to its default, so Python turns it into
    KeyboardInterrupt even when the test session runs in the background (where SIGINT is ignored and
    a child would inherit that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
