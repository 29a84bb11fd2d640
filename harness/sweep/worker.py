"""The in-process worker: llama.cpp's model and the timed loop live here, apart from the sweep.

    python -m harness.sweep.worker READ_FD WRITE_FD      (started by harness.sweep.isolate)

It reads jobs (a point's resolved config, model path, point number, log file) from READ_FD and
writes the events of harness.sweep.execute back on WRITE_FD, then ("done", None), or ("error",
status, line) for a point-level error. The model stays loaded between jobs while its load
parameters stay the same. When llama.cpp's native code kills this process, the sweep process
sees the pipe close and records the point as crashed; stderr (llama.cpp's log, ggml's abort
message) goes to the point's log file so the sweep can quote its last lines.
"""
from __future__ import annotations

import os
import signal
import sys
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from harness.backends.base import Unsupported
from harness.errors import error_line
from harness.sweep import faults
from harness.sweep.execute import execute


def _log_to(path: str) -> None:
    """Point fd 2 (llama.cpp's log through its callback, ggml's abort message) at this job's log."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 2)
    os.close(fd)


def serve(jobs: Connection, events: Connection) -> int:
    from harness.models.llama_log import llama_log
    llama_log().tee_fd = 2
    fault = faults.parse(os.environ.get(faults.ENV, ""))
    while True:
        try:
            msg: Any = jobs.recv()
        except EOFError:  # the sweep process is gone
            return 0
        if msg[0] == "quit":
            return 0
        _, config, path, point, log_path = msg
        _log_to(log_path)
        cfg = OmegaConf.create(config)
        wrap = (lambda b: faults.arm(b, fault)) if fault is not None and fault.applies(point) else None
        try:
            for event in execute(cfg, Path(path) if path else None, wrap):
                events.send(event)
            events.send(("done", None))
        except Exception as exc:
            if not isinstance(exc, (RuntimeError, OSError, ValueError)):
                traceback.print_exc()
            events.send(("error", "unsupported" if isinstance(exc, Unsupported) else "failed", error_line(exc)))


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the sweep's to handle; it stops us
    rfd, wfd = int(argv[0]), int(argv[1])
    for fd in (rfd, wfd):
        os.set_inheritable(fd, False)  # a tool's child must not hold the pipe open after we die
    return serve(Connection(rfd, writable=False), Connection(wfd, readable=False))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
