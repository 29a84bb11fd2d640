"""Peak resident memory of the process that runs a point (this one, or the in-process worker),
sampled in a thread while the point runs."""
from __future__ import annotations

import threading

import psutil


class PeakRss:
    def __init__(self, pid: int | None = None, interval_s: float = 0.05) -> None:
        self.interval_s = interval_s
        self.proc = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _rss(self) -> int:
        try:
            return self.proc.memory_info().rss
        except psutil.Error:  # the process ended (a crashed worker)
            return 0

    def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, self._rss())
            if self._stop.wait(self.interval_s):
                return

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def mb(self) -> float:
        return round(self.peak / 2**20, 1)
