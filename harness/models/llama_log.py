"""llama.cpp's log: kept quiet (HARNESS_LLAMA_LOG=1 echoes it) but its tail is kept, so a failure
can say why in one line, and so are its buffer-size and tensor-override lines (models/buffers.py reads
them: memory per point)."""
from __future__ import annotations

import collections
import ctypes
import functools
import os

import llama_cpp

from harness.models import buffers

KEEP_MAX = 20000


class LlamaLog:
    def __init__(self) -> None:
        self.tail: collections.deque[tuple[int, str]] = collections.deque(maxlen=40)
        self.echo = bool(os.environ.get("HARNESS_LLAMA_LOG"))
        self.kept: list[str] = []  # the lines buffers.kept() selects, oldest dropped past KEEP_MAX
        self.dropped = 0  # lines dropped from the front of kept
        self.tee_fd: int | None = None  # every line also written here, unbuffered (survives a crash)
        self._cb = llama_cpp.llama_log_callback(self._log)  # referenced: ctypes must not free it
        llama_cpp.llama_log_set(self._cb, ctypes.c_void_p(0))

    def _log(self, level: int, text: bytes, _user: object) -> None:
        line = text.decode("utf-8", "replace")
        self.tail.append((level, line))
        if buffers.kept(line):
            self.kept.append(line)
            if len(self.kept) > KEEP_MAX:
                del self.kept[:KEEP_MAX // 2]
                self.dropped += KEEP_MAX // 2
        if self.tee_fd is not None:
            os.write(self.tee_fd, text)
        if self.echo:
            print(line, end="")

    def mark(self) -> int:
        """A position in the kept lines: since(mark) gives those logged after it."""
        return self.dropped + len(self.kept)

    def since(self, mark: int) -> list[str]:
        return self.kept[max(0, mark - self.dropped):]

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
