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
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.backends.base import Backend, DecodeBackend, GenerateBackend, Unsupported
from harness.errors import error_line
from harness.metrics import latency
from harness.workloads.chat import load_prompts

if TYPE_CHECKING:
    from harness.config.schema import BenchConfig


@dataclass(frozen=True)
class LoadCase:
    concurrency: int

    @property
    def name(self) -> str:
        return f"load c{self.concurrency}"

    def columns(self) -> dict[str, Any]:
        return {"test": self.name, "concurrency": self.concurrency, "n_depth": 0}


class LoadWorkload:
    def __init__(self, cfg: BenchConfig, backend: Backend | None) -> None:
        # a server's client: tokenize and generate, no decode API (the in-process backend has all three)
        if backend is not None and (isinstance(backend, DecodeBackend) or not isinstance(backend, GenerateBackend)):
            raise Unsupported("workload=load needs a server backend (backend=http or http_external)")
        self.w, self.backend = cfg.workload, backend

    def cases(self) -> list[LoadCase]:
        return [LoadCase(self.w.concurrency)]

    def _backend(self) -> GenerateBackend:
        if self.backend is None:
            raise RuntimeError("a load workload planned without a backend cannot run")
        return self.backend

    def _client(self, prompts: list[list[int]], next_index: Callable[[], int | None], deadline: float,
                out: list[dict[str, Any]], errors: list[str]) -> None:
        while time.monotonic() < deadline:
            i = next_index()
            if i is None:
                return
            t0 = time.perf_counter_ns()
            try:
                times = [ev.t_ns for ev in self._backend().generate(prompts[i % len(prompts)], self.w.max_tokens, (),
                                                                  self.w.temperature, self.w.seed + i)]
            except Exception as exc:  # a failed request is counted, the load goes on
                errors.append(error_line(exc))
                continue
            out.append(latency.request(t0, times, time.perf_counter_ns()))

    def run(self, case: LoadCase) -> dict[str, Any]:
        prompts = [self._backend().tokenize(p.text) for p in load_prompts(self.w.prompts, self.w.max_prompts)]
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
