"""Agent metrics over trials: success, pass@k, pass^k, the valid-call rate. Pure functions.

n trials of a task, c of them successful:
- pass@k (Chen et al. 2021, the Codex paper): the chance that at least one of k trials drawn
  without replacement from the n succeeds, unbiased: 1 - C(n-c, k) / C(n, k).
- pass^k (Yao et al. 2024, tau-bench): the chance that all k drawn trials succeed:
  C(c, k) / C(n, k). pass^1 = pass@1 = c/n; pass^k falls with k where pass@k rises.
Over a suite, each is the mean of the per-task values (every task weighs the same).
Per turn (a completion of the tool loop, which resends the whole history): prompt tokens, the
tokens the server took from its prompt cache, TTFT and time to the first final-channel token.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.agent.outcome import ERROR_KINDS
from harness.metrics.stats import mean

if TYPE_CHECKING:
    from harness.agent.session import Turn

MS = 1e-6
CACHE_COLUMNS = ("cache_n", "cached_share")  # filled where the server reports its cached tokens

FORMAT_ERRORS: tuple[str, ...] = ("unknown_tool", "invalid_json", "invalid_args")  # an invalid call


def _check(n: int, c: int, k: int) -> None:
    if not 0 <= c <= n:
        raise ValueError(f"successes c={c} must be between 0 and trials n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"k={k} must be between 1 and the number of trials n={n}")


def pass_at_k(n: int, c: int, k: int) -> float:
    """1 - C(n-c, k) / C(n, k): at least one success among k of the n trials."""
    _check(n, c, k)
    total = math.comb(n, k)
    return (total - math.comb(n - c, k)) / total  # exact integers, one rounding: pass@1 == c/n


def pass_hat_k(n: int, c: int, k: int) -> float:
    """C(c, k) / C(n, k): all k of k trials drawn from the n succeed (tau-bench's pass^k)."""
    _check(n, c, k)
    return math.comb(c, k) / math.comb(n, k)


def success_rate(outcomes: Iterable[bool]) -> float:
    """The share of successful trials (nan for none)."""
    items = list(outcomes)
    return sum(items) / len(items) if items else math.nan


def mean_pass_at_k(counts: Sequence[tuple[int, int]], k: int) -> float:
    """pass@k averaged over tasks, from each task's (n, c); nan for no tasks."""
    return sum(pass_at_k(n, c, k) for n, c in counts) / len(counts) if counts else math.nan


def mean_pass_hat_k(counts: Sequence[tuple[int, int]], k: int) -> float:
    """pass^k averaged over tasks, from each task's (n, c); nan for no tasks."""
    return sum(pass_hat_k(n, c, k) for n, c in counts) / len(counts) if counts else math.nan


@dataclass(frozen=True)
class CallCounts:
    """The calls of some trials by outcome: `by_kind` counts each error of ERROR_KINDS (all keys)."""

    total: int
    by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return sum(self.by_kind.values())

    @property
    def ok_rate(self) -> float:
        """Calls that ran without any error, among all calls (nan for none)."""
        return (self.total - self.errors) / self.total if self.total else math.nan

    @property
    def valid_rate(self) -> float:
        """Valid calls among all calls: a known tool, JSON that parses, arguments the schema accepts.
        A valid call may still fail in the tool (tool_error, timeout); nan for no calls."""
        bad = sum(self.by_kind.get(k, 0) for k in FORMAT_ERRORS)
        return (self.total - bad) / self.total if self.total else math.nan

    def rate(self, kind: str) -> float:
        """The share of calls that failed with `kind` (nan for no calls)."""
        return self.by_kind.get(kind, 0) / self.total if self.total else math.nan


def count_calls(errors: Iterable[str | None]) -> CallCounts:
    """CallCounts from each call's error (None for a call without one, else a key of ERROR_KINDS)."""
    items = list(errors)
    seen = Counter(e for e in items if e is not None)
    unknown = set(seen) - set(ERROR_KINDS)
    if unknown:
        raise ValueError(f"unknown call error kind(s) {sorted(unknown)}; allowed: {', '.join(ERROR_KINDS)}")
    return CallCounts(len(items), {k: seen.get(k, 0) for k in ERROR_KINDS})


def turn_latency(turn: Turn) -> dict[str, Any]:
    """One turn's prompt tokens, cached tokens (None: not reported), TTFT and time to the first
    final-channel token (nan: none), ms, from its raw timestamps."""
    final = (turn.final_ns - turn.t_start_ns) * MS if turn.final_ns is not None else math.nan
    return {"prompt_tokens": turn.prompt_tokens, "cached_tokens": turn.cached_tokens, "ttft_ms": turn.ttft_ms,
            "ttft_final_ms": final}


def episode_latency(turns: Sequence[Turn]) -> dict[str, float]:
    """An episode's columns over its turns: ttft_ms and ttft_final_ms (means over the turns that have
    one), cache_n (cached tokens summed) and cached_share (cache_n / prompt tokens) over the turns
    whose server reported a cached count; nan where none did."""
    per = [turn_latency(t) for t in turns]
    seen = [p for p in per if p["cached_tokens"] is not None]
    prompt = sum(p["prompt_tokens"] for p in seen)
    cached = float(sum(p["cached_tokens"] for p in seen)) if seen else math.nan
    return {"ttft_ms": mean([p["ttft_ms"] for p in per]), "ttft_final_ms": mean([p["ttft_final_ms"] for p in per]),
            "cache_n": cached, "cached_share": cached / prompt if seen and prompt else math.nan}
