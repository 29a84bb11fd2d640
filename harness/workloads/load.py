"""Concurrent streaming clients against a server, reported as vLLM's `bench serve` reports.

`workload.concurrency` clients (threads, one request in flight each) send the shipped chat
prompts round-robin until `workload.num_requests` requests are done or `workload.duration_s`
has passed, whichever comes first. Each request records raw timestamps; metrics/latency.py
turns them into TTFT / ITL / E2E percentiles, request throughput and output tokens/s. Bounded in
count and time; a managed server listens on loopback only.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from harness.backends.base import Unsupported
from harness.metrics import latency
from harness.workloads.chat import load_prompts


@dataclass(frozen=True)
class LoadCase:
    concurrency: int

    @property
    def name(self) -> str:
        return f"load c{self.concurrency}"

    def columns(self) -> dict[str, Any]:
        return {"test": self.name, "concurrency": self.concurrency, "n_depth": 0}


class LoadWorkload:
    def __init__(self, cfg, backend) -> None:
        self.w, self.backend = cfg.workload, backend
        if backend is not None and (hasattr(backend, "decode") or not hasattr(backend, "tokenize")):
            raise Unsupported("workload=load needs a server backend (backend=http or http_external)")

    def cases(self) -> list[LoadCase]:
        return [LoadCase(self.w.concurrency)]

    def _client(self, prompts: list[list[int]], next_index, deadline: float, out: list, errors: list) -> None:
        while time.monotonic() < deadline:
            i = next_index()
            if i is None:
                return
            t0 = time.perf_counter_ns()
            try:
                times = [ev.t_ns for ev in self.backend.generate(prompts[i % len(prompts)], self.w.max_tokens, (),
                                                                  self.w.temperature, self.w.seed + i)]
            except Exception as exc:  # a failed request is counted, the load goes on
                errors.append(f"{type(exc).__name__}: {exc}".splitlines()[0])
                continue
            out.append(latency.request(t0, times, time.perf_counter_ns()))

    def run(self, case: LoadCase) -> dict[str, Any]:
        prompts = [self.backend.tokenize(p.text) for p in load_prompts(self.w.prompts, self.w.max_prompts)]
        lock, counter = threading.Lock(), iter(range(self.w.num_requests))

        def next_index() -> int | None:
            with lock:
                return next(counter, None)

        done: list[dict[str, Any]] = []
        errors: list[str] = []
        deadline = time.monotonic() + self.w.duration_s
        threads = [threading.Thread(target=self._client, args=(prompts, next_index, deadline, done, errors))
                   for _ in range(case.concurrency)]
        t0 = time.perf_counter_ns()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall_s = (time.perf_counter_ns() - t0) / 1e9
        row = {"status": "ok" if done else "failed", **latency.served(done, wall_s), "failed_requests": len(errors),
               "_samples": {"requests": done, "errors": errors[:20]}}
        if not done:
            row["error"] = errors[0] if errors else "no request finished"
        return row
