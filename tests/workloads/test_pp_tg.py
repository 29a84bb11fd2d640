"""pp/tg on real llama.cpp: the plan, the timed repetitions, depth and memory clearing."""
from __future__ import annotations

import llama_cpp
import pytest

from harness.backends.inprocess import InProcessBackend
from harness.workloads.pp_tg import Case, PpTg, plan


class Counting:
    """Wraps a real backend to count what the workload sends through it."""

    def __init__(self, inner: InProcessBackend) -> None:
        self.inner, self.batches, self.clears = inner, [], 0
        self.n_vocab = inner.n_vocab

    def decode(self, tokens):
        self.batches.append(len(tokens))
        self.inner.decode(tokens)

    def synchronize(self):
        self.inner.synchronize()

    def decode_each(self, tokens):
        self.batches += [1] * len(tokens)
        self.inner.decode_each(tokens)

    def clear(self):
        self.clears += 1
        self.inner.clear()


def test_plan_names_tests_like_llama_bench(tiny_cfg):
    w = tiny_cfg("workload.n_prompt=512", "workload.n_gen=128", "workload.pg=true", "workload.n_depth=256",
                 "backend.n_ctx=1024").workload
    assert [t.name for t in plan(w)] == ["pp512 @ d256", "tg128 @ d256", "pp512+tg128 @ d256"]
    assert [t.name for t in plan(tiny_cfg("workload.n_gen=0").workload)] == ["pp512"]


@pytest.fixture()
def backend(tiny_cfg, tiny_model):
    cfg = tiny_cfg("backend.n_ctx=1024", "backend.n_batch=64", "backend.n_ubatch=64")
    b = InProcessBackend(cfg.backend, tiny_model)
    b.start()
    yield b
    b.stop()


def test_pp_chunks_by_n_batch_tg_is_single_tokens_and_memory_is_cleared(backend):
    c = Counting(backend)
    samples = PpTg(c, n_batch=64, seed=1).run(Case(150, 5, 40), repetitions=3, warmup=True)
    assert len(samples) == 3 and all(s > 0 for s in samples)
    # warm-up: pp150 as 64+64+22, tg 1 token; each repetition: depth 40, pp150, 5 single tokens
    rep = [40, 64, 64, 22, 1, 1, 1, 1, 1]
    assert c.batches == [64, 64, 22, 1] + rep * 3
    assert c.clears == 4
    mem = llama_cpp.llama_get_memory(backend.ctx)
    assert llama_cpp.llama_memory_seq_pos_max(mem, 0) == 40 + 150 + 5 - 1  # cleared before each rep


def test_no_warmup_and_depth_zero(backend):
    c = Counting(backend)
    PpTg(c, n_batch=64, seed=1).run(Case(0, 3, 0), repetitions=2, warmup=False)
    assert c.batches == [1, 1, 1, 1, 1, 1] and c.clears == 2
