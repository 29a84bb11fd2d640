"""Backend x workload for one point: the loop both the sweep process and the in-process worker run.

`execute` yields what the point produced, in order: ("info", the backend's columns) once the
backend started, ("case", name) as each case starts, ("row", row) as each case ends, then the
aggregate rows. A point-level error (the backend would not start) is raised; a case's own error
becomes that case's row and the loop goes on.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Callable, Iterator

from harness import backends, workloads
from harness.backends.base import Backend, Unsupported

Event = tuple[str, Any]


def one_line(exc: BaseException) -> str:
    return (f"{type(exc).__name__}: {exc}".splitlines() or [""])[0][:500]


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def execute(cfg: Any, path: Path | None,
            wrap: Callable[[Backend], Backend] | None = None) -> Iterator[Event]:
    backend = backends.create(cfg, path)
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
            try:
                row.update(workload.run(case))
            except Unsupported as exc:
                row.update(status="unsupported", error=one_line(exc))
            except Exception as exc:  # a failed case becomes a row, the sweep goes on
                row.update(status="failed", error=one_line(exc))
            rows.append(row)
            yield "row", row
        if hasattr(workload, "aggregate"):  # rows over the cases (agent: per task and per suite)
            for row in workload.aggregate(rows):
                yield "row", row
    finally:
        backend.stop()
