"""Run the `harness` console script as a user would (tests/ is on sys.path under pytest)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def harness(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the `harness` console script as a user would."""
    exe = Path(sys.executable).with_name("harness")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=cwd or ROOT,
                          timeout=timeout, env=os.environ.copy())
