"""Peak resident memory of this process while a point runs (sampled in a thread)."""
from __future__ import annotations

import threading

import psutil


class PeakRss:
    def __init__(self, interval_s: float = 0.05) -> None:
        self.interval_s = interval_s
        self.proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, self.proc.memory_info().rss)
            if self._stop.wait(self.interval_s):
                return

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)

    @property
    def mb(self) -> float:
        return round(self.peak / 2**20, 1)
