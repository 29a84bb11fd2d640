"""What the streaming client costs per token, over SSE bytes recorded from a real llama-server.

`pytest tests/backends/test_bench_sse.py --benchmark-enable` gives the figure in docs/BENCHMARKS.md
(target: under 0.1 ms per streamed token). Without --benchmark-enable it runs once as a test.
"""
from __future__ import annotations

import httpx
import pytest

from harness.backends.http import HttpBackend
from harness.backends.server import release_server

N_TOKENS = 128


@pytest.fixture(scope="module")
def recorded(tiny_cfg, tiny_model):
    """Raw /completion SSE bytes of a 128-token greedy generation by llama-server on synthetic-tiny."""
    cfg = tiny_cfg("workload=chat", "backend=http", "backend.n_ctx=512", "backend.n_threads=1")
    live = HttpBackend(cfg.backend, tiny_model)
    live.start()
    try:
        body = live._body("completion", [100, 200, 300], N_TOKENS, 0.0, 0, ignore_eos=True)
        raw = live.client.post(live.url + "/completion", json=body).content
    finally:
        live.stop()
        release_server()
    return cfg, raw


def test_client_cost_per_streamed_token(recorded, benchmark):
    cfg, raw = recorded
    replay = HttpBackend(cfg.backend, None)
    replay.url = "http://replay.invalid"
    replay.client = httpx.Client(transport=httpx.MockTransport(
        lambda request: httpx.Response(200, headers={"content-type": "text/event-stream"}, content=raw)))

    def stream() -> int:
        return sum(1 for _ in replay.generate([100, 200, 300], N_TOKENS, ()))

    assert benchmark(stream) == N_TOKENS
    if benchmark.stats:  # only with --benchmark-enable
        per_token_ms = benchmark.stats.stats.median / N_TOKENS * 1e3
        benchmark.extra_info["per_token_ms"] = per_token_ms
        print(f"\nclient: {per_token_ms * 1000:.1f} µs per streamed token")
