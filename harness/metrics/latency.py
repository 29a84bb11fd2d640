"""Request latencies from raw stream timestamps: TTFT, time to first final token, ITL, E2E, rate."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from harness.metrics.stats import describe

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


def _mean(xs: Sequence[float]) -> float:
    a = [x for x in xs if x == x]  # drop NaN
    return float(np.mean(a)) if a else float("nan")


def aggregate(requests: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Means over the repetitions of one case; ITL percentiles over all its intervals."""
    itl = describe([x for r in requests for x in r["itl_ms"]])
    e2e = describe([r["e2e_ms"] * 1e6 for r in requests])
    rate = describe([r["decode_ts"] for r in requests if r["decode_ts"] == r["decode_ts"]])
    return {"ttft_ms": _mean([r["ttft_ms"] for r in requests]),
            "ttft_final_ms": _mean([r["ttft_final_ms"] for r in requests]),
            "e2e_ms": e2e.mean * MS, "avg_ns": e2e.mean, "stddev_ns": e2e.stddev,
            "itl_ms": itl.mean, "itl_p50_ms": itl.median, "itl_p90_ms": itl.p90, "itl_p99_ms": itl.p99,
            "avg_ts": rate.mean, "stddev_ts": rate.stddev, "ci95_ts": rate.ci95}
