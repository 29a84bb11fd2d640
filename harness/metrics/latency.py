"""Request latencies from raw stream timestamps: TTFT, time to first final token, ITL, E2E, rate."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.metrics.stats import describe, mean

MS = 1e-6


def request(t_start_ns: int, token_ns: Sequence[int], t_end_ns: int,
            channels: Sequence[str | None] | None = None) -> dict[str, Any]:
    """Per-request numbers; `channels[i]` is the Harmony channel of token i when known."""
    ttft = (token_ns[0] - t_start_ns) * MS if token_ns else float("nan")
    itl = list(np.diff(token_ns) * MS) if len(token_ns) > 1 else []
    final = [t for t, ch in zip(token_ns, channels or ()) if ch == "final"]
    decode_s = (token_ns[-1] - token_ns[0]) / 1e9 if len(token_ns) > 1 else 0.0
    return {"ttft_ms": ttft, "ttft_final_ms": (final[0] - t_start_ns) * MS if final else float("nan"),
            "e2e_ms": (t_end_ns - t_start_ns) * MS, "itl_ms": itl, "completion_tokens": len(token_ns),
            "decode_ts": (len(token_ns) - 1) / decode_s if decode_s > 0 else float("nan")}


def aggregate(requests: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Means over the repetitions of one case; ITL percentiles over all its intervals."""
    itl = describe([x for r in requests for x in r["itl_ms"]])
    e2e = describe([r["e2e_ms"] * 1e6 for r in requests])
    ttft = describe([r["ttft_ms"] for r in requests if r["ttft_ms"] == r["ttft_ms"]])
    rate = describe([r["decode_ts"] for r in requests if r["decode_ts"] == r["decode_ts"]])
    return {"ttft_ms": ttft.mean, "ttft_p50_ms": ttft.median, "ttft_p90_ms": ttft.p90, "ttft_p99_ms": ttft.p99,
            "e2e_p50_ms": e2e.median * MS, "e2e_p90_ms": e2e.p90 * MS, "e2e_p99_ms": e2e.p99 * MS,
            "ttft_final_ms": mean([r["ttft_final_ms"] for r in requests]),
            "e2e_ms": e2e.mean * MS, "avg_ns": e2e.mean, "stddev_ns": e2e.stddev,
            "itl_ms": itl.mean, "itl_p50_ms": itl.median, "itl_p90_ms": itl.p90, "itl_p99_ms": itl.p99,
            "avg_ts": rate.mean, "stddev_ts": rate.stddev, "ci95_ts": rate.ci95, "cv_ts": rate.cv}


def server_rates(timings: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Means of llama-server's own prompt and predicted tokens/s, and of the prompt tokens it took from
    its cache (cache_n), over the requests that gave them."""
    def of(key: str) -> float:
        return mean([float(t[key]) for t in timings if t.get(key) is not None])
    return {"server_prompt_ts": of("prompt_per_second"), "server_predicted_ts": of("predicted_per_second"),
            "cache_n": of("cache_n")}


def served(requests: Sequence[dict[str, Any]], wall_s: float) -> dict[str, Any]:
    """vLLM `bench serve`'s summary of a load run: throughput and latency percentiles."""
    ttft = describe([r["ttft_ms"] for r in requests if r["ttft_ms"] == r["ttft_ms"]])
    e2e = describe([r["e2e_ms"] for r in requests])
    itl = describe([x for r in requests for x in r["itl_ms"]])
    out_tokens = sum(r["completion_tokens"] for r in requests)
    return {"completed_requests": len(requests), "request_throughput": len(requests) / wall_s if wall_s else 0.0,
            "output_ts": out_tokens / wall_s if wall_s else 0.0, "avg_ts": out_tokens / wall_s if wall_s else 0.0,
            "n_gen": out_tokens, "ttft_ms": ttft.mean, "ttft_p50_ms": ttft.median, "ttft_p90_ms": ttft.p90,
            "ttft_p99_ms": ttft.p99, "e2e_ms": e2e.mean, "e2e_p50_ms": e2e.median, "e2e_p90_ms": e2e.p90,
            "e2e_p99_ms": e2e.p99,
            "itl_ms": itl.mean, "itl_p50_ms": itl.median, "itl_p90_ms": itl.p90, "itl_p99_ms": itl.p99,
            "duration_s": wall_s}
