"""llama.cpp's log: kept quiet (HARNESS_LLAMA_LOG=1 echoes it) but its tail is kept, so a failure
can say why in one line."""
from __future__ import annotations

import collections
import ctypes
import functools
import os

import llama_cpp


class LlamaLog:
    def __init__(self) -> None:
        self.tail: collections.deque[tuple[int, str]] = collections.deque(maxlen=40)
        self.echo = bool(os.environ.get("HARNESS_LLAMA_LOG"))
        self.tee_fd: int | None = None  # every line also written here, unbuffered (survives a crash)
        self._cb = llama_cpp.llama_log_callback(self._log)  # referenced: ctypes must not free it
        llama_cpp.llama_log_set(self._cb, ctypes.c_void_p(0))

    def _log(self, level: int, text: bytes, _user: object) -> None:
        line = text.decode("utf-8", "replace")
        self.tail.append((level, line))
        if self.tee_fd is not None:
            os.write(self.tee_fd, text)
        if self.echo:
            print(line, end="")

    def reason(self) -> str:
        """The last warning or error llama.cpp logged (GGML_LOG_LEVEL_WARN=3, ERROR=4)."""
        errs = [ln.strip() for level, ln in self.tail if level in (3, 4) and ln.strip()]
        return errs[-1] if errs else ""


@functools.cache
def llama_log() -> LlamaLog:
    """Install the quiet log once per process and initialise llama.cpp's backends."""
    log = LlamaLog()
    llama_cpp.llama_backend_init()
    return log
