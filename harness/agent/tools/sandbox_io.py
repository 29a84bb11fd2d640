"""The sandboxed program's pipes: stdin fed from a buffer, stdout and stderr captured (head and
tail kept, the middle cut past a limit), all non-blocking, moved by `sandbox._drive`."""
from __future__ import annotations

import os
import selectors
import subprocess
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Captured:
    """Output kept from one stream: its head and tail, `cut` bytes of the middle left out."""

    text: str
    cut: int


class _Capture:
    """Keeps the first 3/4 and the last 1/4 of `limit` bytes of a stream, and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.head_max, self.tail_max = limit - limit // 4, limit // 4
        self.head, self.tail, self.total = bytearray(), bytearray(), 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_max - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        self.tail += data
        if len(self.tail) > self.tail_max:
            del self.tail[:len(self.tail) - self.tail_max]

    def result(self) -> Captured:
        cut = self.total - len(self.head) - len(self.tail)
        text = self.head.decode("utf-8", "replace")
        if cut:
            text += f"\n[... {cut} bytes cut ...]\n"
        return Captured(text + self.tail.decode("utf-8", "replace"), cut)


class Pipes:
    """The program's stdin (fed from a buffer) and its stdout and stderr (captured), non-blocking."""

    def __init__(self, proc: subprocess.Popen[bytes], stdin: bytes, limit: int) -> None:
        assert proc.stdin and proc.stdout and proc.stderr
        self.stdin, self.pending = proc.stdin, memoryview(stdin)
        self.streams = (proc.stdin, proc.stdout, proc.stderr)
        self.out, self.err = _Capture(limit), _Capture(limit)
        self.sel = selectors.DefaultSelector()
        for stream, capture in ((proc.stdout, self.out), (proc.stderr, self.err)):
            os.set_blocking(stream.fileno(), False)
            self.sel.register(stream, selectors.EVENT_READ, capture)
        if self.pending:
            os.set_blocking(self.stdin.fileno(), False)
            self.sel.register(self.stdin, selectors.EVENT_WRITE)
        else:
            self.stdin.close()

    @property
    def reading(self) -> bool:
        return any(key.fileobj is not self.stdin for key in self.sel.get_map().values())

    def pump(self, timeout: float) -> None:
        """Move data for up to `timeout` seconds."""
        if not self.sel.get_map():
            time.sleep(timeout)
            return
        for key, _ in self.sel.select(timeout):
            if key.fileobj is self.stdin:
                self._write()
                continue
            data = os.read(key.fd, 1 << 16)
            if data:
                key.data.add(data)
            else:
                self.sel.unregister(key.fileobj)

    def _write(self) -> None:
        try:
            self.pending = self.pending[os.write(self.stdin.fileno(), self.pending):]
        except BlockingIOError:
            return
        except BrokenPipeError:  # the program stopped reading
            self.pending = self.pending[:0]
        if not self.pending:
            self.sel.unregister(self.stdin)
            self.stdin.close()

    def close(self) -> None:
        self.sel.close()
        for stream in self.streams:
            stream.close()
