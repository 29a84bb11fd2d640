"""A total memory limit across all of the sandboxed program's processes: a memory cgroup per run.

The run's cgroup is made a child of the harness's own: cgroup v2 (`memory.max`, swap off) where
the memory controller is enabled for children there, else cgroup v1's memory hierarchy
(`memory.limit_in_bytes`, and `memory.memsw.limit_in_bytes` where swap is accounted). The
sandbox's first process joins it (writing its pid to `cgroup.procs`) before it starts anything,
so everything the program starts is counted together; past the limit the kernel's OOM killer
ends a process of the group. Where neither can be written (an unprivileged user without a
delegated cgroup, macOS) `create` returns None and only the per-process limits hold; the probe
reports which.
"""
from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


def _own() -> dict[str, str]:
    """This process's cgroup paths by controller ("" for cgroup v2)."""
    paths = {}
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for name in controllers.split(",") if controllers else [""]:
                paths[name] = path
    except (OSError, ValueError):
        pass
    return paths


def _parents() -> list[tuple[Path, dict[str, str]]]:
    """Where a run's cgroup may go, each with the files that set its limit (bytes to fill in)."""
    own, found = _own(), []
    v2 = ROOT / own.get("", "/").lstrip("/") if (ROOT / "cgroup.controllers").exists() else None
    try:
        v2_memory = v2 is not None and "memory" in (v2 / "cgroup.subtree_control").read_text().split()
    except OSError:
        v2_memory = False
    if v2 is not None and v2_memory:
        found.append((v2, {"memory.max": "{}", "memory.swap.max": "0"}))
    if "memory" in own and (ROOT / "memory").is_dir():
        found.append((ROOT / "memory" / own["memory"].lstrip("/"),
                      {"memory.limit_in_bytes": "{}", "memory.memsw.limit_in_bytes": "{}"}))
    return found


def create(limit_mb: int) -> str | None:
    """A new cgroup limited to `limit_mb` MiB in all, or None where none can be made here."""
    for parent, files in _parents():
        group = parent / f"harness-python-{uuid.uuid4().hex[:12]}"
        try:
            group.mkdir()
        except OSError:
            continue
        try:
            for name, value in files.items():
                if (group / name).exists():
                    (group / name).write_text(value.format(limit_mb << 20))
            return str(group)
        except OSError:
            remove(str(group))
    return None


def oom_killed(group: str) -> bool:
    """Whether the OOM killer ended a process of the group (v2 memory.events, v1 oom_control)."""
    for name in ("memory.events", "memory.oom_control"):
        try:
            for line in (Path(group) / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
        except (OSError, ValueError):
            continue
    return False


def remove(group: str, wait_s: float = 2.0) -> None:
    """Remove the group once its processes are gone (the kernel reaps a PID namespace shortly)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            os.rmdir(group)
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                return  # left behind, empty soon; harmless
            time.sleep(0.02)
