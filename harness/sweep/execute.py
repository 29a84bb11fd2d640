"""Backend x workload for one point: the loop both the sweep process and the in-process worker run.

`execute` yields what the point produced, in order: ("info", the backend's columns) once the
backend started, ("case", name) as each case starts, ("row", row) as each case ends, then the
aggregate rows. Each case's row carries how busy the machine was while it ran (records/busy.py).
A point-level error (the backend would not start) is raised; a case's own error
becomes that case's row and the loop goes on.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from harness import backends, workloads
from harness.backends.base import Backend, Unsupported
from harness.config.schema import REPLAY_BACKENDS
from harness.errors import error_line
from harness.records import busy

Event = tuple[str, Any]


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def execute(cfg: Any, path: Path | None,
            wrap: Callable[[Backend], Backend] | None = None) -> Iterator[Event]:
    replay = workloads.replay_scripts(cfg) if cfg.backend.type in REPLAY_BACKENDS else None
    backend = backends.create(cfg, path, replay=replay)
    if wrap is not None:
        backend = wrap(backend)
    try:
        try:
            backend.start()
        finally:
            yield "info", backend.info()
        workload = workloads.create(cfg, backend)
        rows: list[dict[str, Any]] = []
        for case in workload.cases():
            yield "case", case.name
            row = {**case.columns(), "test_time": now()}
            before = busy.read()  # here, in the process that runs the case (the worker, in-process)
            try:
                row.update(workload.run(case))
            except Unsupported as exc:
                row.update(status="unsupported", error=error_line(exc))
            except Exception as exc:  # a failed case becomes a row, the sweep goes on
                row.update(status="failed", error=error_line(exc))
            row.update(busy.columns(before, busy.read()))
            rows.append(row)
            yield "row", row
        if hasattr(workload, "aggregate"):  # rows over the cases (agent: per task and per suite)
            for row in workload.aggregate(rows):
                yield "row", row
    finally:
        backend.stop()
