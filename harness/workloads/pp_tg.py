"""llama-bench's pp/tg tests on a DecodeBackend, measured the way llama-bench measures them.

pp<N>: N random tokens decoded in n_batch chunks. tg<N>: N single-token decodes, no sampling.
pp<N>+tg<M>: both in one timed run. d<D>: D tokens prefilled, untimed, before each repetition.
One warm-up, then `repetitions` timed runs with the KV memory cleared between them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from harness.backends.base import DecodeBackend, Unsupported, decode_batched
from harness.backends.sse import cached_tokens
from harness.metrics.latency import server_rates
from harness.metrics.stats import bench_columns, rates
from harness.models.vocab import N_RANKS

if TYPE_CHECKING:
    from harness.backends.http import HttpBackend
    from harness.config.schema import BenchConfig, WorkloadConfig


@dataclass(frozen=True)
class Case:
    n_prompt: int
    n_gen: int
    n_depth: int

    @property
    def name(self) -> str:
        parts = ([f"pp{self.n_prompt}"] if self.n_prompt else []) + ([f"tg{self.n_gen}"] if self.n_gen else [])
        return "+".join(parts) + (f" @ d{self.n_depth}" if self.n_depth else "")

    @property
    def n_tokens(self) -> int:
        return self.n_prompt + self.n_gen

    def columns(self) -> dict[str, Any]:
        return {"test": self.name, "n_prompt": self.n_prompt, "n_gen": self.n_gen, "n_depth": self.n_depth}


def plan(w: WorkloadConfig) -> list[Case]:
    tests = []
    if w.n_prompt:
        tests.append(Case(w.n_prompt, 0, w.n_depth))
    if w.n_gen:
        tests.append(Case(0, w.n_gen, w.n_depth))
    if w.pg and w.n_prompt and w.n_gen:
        tests.append(Case(w.n_prompt, w.n_gen, w.n_depth))
    return tests


class PpTg:
    def __init__(self, backend: DecodeBackend, n_batch: int, seed: int) -> None:
        self.b = backend
        self.n_batch = n_batch
        self.rng = np.random.default_rng(seed)

    def _tokens(self, n: int) -> npt.NDArray[np.int32]:
        return self.rng.integers(0, self.b.n_vocab, size=n, dtype=np.int32)

    def _prompt(self, tokens: npt.NDArray[np.int32]) -> None:
        decode_batched(self.b, tokens, self.n_batch)
        self.b.synchronize()

    def _gen(self, tokens: npt.NDArray[np.int32]) -> None:
        self.b.decode_each(tokens)

    def run(self, test: Case, repetitions: int, warmup: bool) -> list[int]:
        """Timed repetitions of `test`; returns the wall time of each in ns."""
        if warmup:
            self.b.clear()
            if test.n_prompt:
                self._prompt(self._tokens(test.n_prompt))
            if test.n_gen:
                self._gen(self._tokens(1))
        samples = []
        for _ in range(repetitions):
            self.b.clear()
            if test.n_depth:
                self._prompt(self._tokens(test.n_depth))
            prompt, gen = self._tokens(test.n_prompt), self._tokens(test.n_gen)
            t0 = time.perf_counter_ns()
            if test.n_prompt:
                self._prompt(prompt)
            if test.n_gen:
                self._gen(gen)
            samples.append(time.perf_counter_ns() - t0)
        return samples


class DepthNotCached(RuntimeError):
    """The server did not keep a test's depth in its prompt cache, or it cannot hold it (one line)."""


class ServedPpTg:
    """pp/tg through a server's /completion: the client's rates beside the server's own timings.

    pp<N>: N random ids, one generated token; the client's time is request start to first token.
    tg<N>: one random id, N tokens with EOS ignored; the client's time is first to last token,
    over N-1 tokens. pp+tg: request start to last token.
    d<D>, as llama-benchy measures it: D random ids sent first with cache_prompt on (untimed, one
    generated token), then the timed request sends those D ids followed by the test's own, cache_prompt
    on, so the server processes only the new tokens on top of the cached depth. The server's
    timings.cache_n must equal D, else the case fails in one line (a server whose cache is off, a slot
    too small, another slot).
    """

    def __init__(self, backend: HttpBackend, seed: int, cache_prompt: bool | None = None) -> None:
        self.b = backend
        self.rng = np.random.default_rng(seed)
        self.cache_prompt = cache_prompt

    def _ids(self, n: int) -> list[int]:
        return [int(t) for t in self.rng.integers(0, N_RANKS, size=n, dtype=np.int32)]

    def _check_depth(self, case: Case) -> None:
        """Refuse, in one line, what cannot keep the depth cached: set before the first request."""
        d = case.n_depth
        if self.cache_prompt is False:
            raise Unsupported(f"n_depth={d} over a server needs its prompt cache: backend.cache_prompt=false "
                              "would prefill the depth in the timed request; unset it or set it true")
        if self.b.cfg.endpoint != "completion":
            raise Unsupported(f"n_depth={d} over a server needs backend.endpoint=completion (token ids, so the "
                              f"depth is an exact prefix the server can reuse), not {self.b.cfg.endpoint}")
        need, n_ctx = d + max(case.n_prompt, 1) + max(case.n_gen, 1), self.b.info().get("server_n_ctx")
        if isinstance(n_ctx, int) and need > n_ctx:
            raise DepthNotCached(f"n_depth+n_prompt+n_gen={need} does not fit the server's slot context "
                                 f"(server_n_ctx={n_ctx}); raise backend.n_ctx so that each of its "
                                 f"backend.n_parallel slots holds {need}")

    def _depth(self, case: Case) -> tuple[list[int], set[int]]:
        """Send the depth (untimed): its ids and the token the server generated after them."""
        depth = self._ids(case.n_depth)
        if not depth:
            return [], set()
        return depth, {ev.token for ev in self.b.generate(depth, 1, (), ignore_eos=True, cache_prompt=True)
                       if ev.token is not None}

    def _once(self, case: Case) -> tuple[int, dict[str, Any]]:
        if case.n_depth:
            self._check_depth(case)
        depth, generated = self._depth(case)
        own = self._ids(max(case.n_prompt, 1))
        while own[0] in generated:  # the cached prefix must end where the depth does
            own[0] = self._ids(1)[0]
        t0 = time.perf_counter_ns()
        times = [ev.t_ns for ev in self.b.generate(depth + own, max(case.n_gen, 1), (), ignore_eos=True,
                                                   cache_prompt=True if depth else None)]
        if depth:
            cached = cached_tokens(self.b.last_timings, self.b.last_usage)
            if cached != len(depth):
                raise DepthNotCached(
                    f"n_depth={len(depth)}: the server reports cache_n={cached}, not the {len(depth)} depth tokens "
                    "sent before (its prompt cache off, a slot too small, another slot?): the timed request "
                    "would prefill the depth too")
        if case.n_prompt and case.n_gen:
            ns = times[-1] - t0
        elif case.n_prompt:
            ns = times[0] - t0
        else:
            ns = times[-1] - times[0]
        return ns, dict(self.b.last_timings)

    def run(self, case: Case, repetitions: int, warmup: bool) -> tuple[list[int], list[dict[str, Any]]]:
        if warmup:
            self._once(case)
        runs = [self._once(case) for _ in range(repetitions)]
        return [ns for ns, _ in runs], [t for _, t in runs]


def _served_tokens(case: Case) -> int:
    """Tokens the client's time covers (tg: first to last token, so one fewer)."""
    return case.n_tokens if case.n_prompt else case.n_gen - 1


class PpTgWorkload:
    """The Workload face of pp/tg: a case per test of the point; decode API or a server."""

    def __init__(self, cfg: BenchConfig, backend: DecodeBackend | HttpBackend | None) -> None:
        self.w = cfg.workload
        self.served = backend is not None and not isinstance(backend, DecodeBackend)
        self.runner: PpTg | ServedPpTg | None
        if backend is None:
            self.runner = None
        elif isinstance(backend, DecodeBackend):
            self.runner = PpTg(backend, cfg.backend.n_batch, self.w.seed)
        else:  # served
            self.runner = ServedPpTg(backend, self.w.seed, cfg.backend.cache_prompt)

    def cases(self) -> list[Case]:
        return plan(self.w)

    def run(self, case: Case) -> dict[str, Any]:
        if self.runner is None:
            raise RuntimeError("a pp_tg workload planned without a backend cannot run")
        if isinstance(self.runner, PpTg):
            samples = self.runner.run(case, self.w.repetitions, self.w.warmup)
            return {"status": "ok", **bench_columns(samples, case.n_tokens),
                    "_samples": {"samples_ns": samples, "samples_ts": rates(samples, case.n_tokens)}}
        samples, timings = self.runner.run(case, self.w.repetitions, self.w.warmup)
        n = _served_tokens(case)
        server = server_rates(timings)
        return {"status": "ok", **bench_columns(samples, n), **server,
                "_samples": {"samples_ns": samples, "samples_ts": rates(samples, n), "server_timings": timings}}
