"""pass@k, pass^k, success and call validity on known counts, and their properties."""
from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.metrics.agent import (
    count_calls,
    mean_pass_at_k,
    mean_pass_hat_k,
    pass_at_k,
    pass_hat_k,
    success_rate,
)


def test_known_counts():
    assert pass_at_k(5, 2, 1) == pytest.approx(0.4)
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7)      # 1 - C(3,2)/C(5,2) = 1 - 3/10
    assert pass_hat_k(5, 2, 1) == pytest.approx(0.4)
    assert pass_hat_k(5, 2, 2) == pytest.approx(0.1)     # C(2,2)/C(5,2) = 1/10
    assert pass_at_k(5, 2, 4) == 1.0                     # only 3 failures: any 4 hold a success
    assert pass_hat_k(5, 2, 3) == 0.0
    assert pass_at_k(4, 0, 2) == 0.0 and pass_hat_k(4, 4, 4) == 1.0


def test_pass_at_k_is_the_share_of_k_subsets_with_a_success():
    trials = [True, False, True, False, False, False]  # n=6, c=2
    for k in range(1, 7):
        subsets = list(itertools.combinations(trials, k))
        assert pass_at_k(6, 2, k) == pytest.approx(sum(any(s) for s in subsets) / len(subsets))
        assert pass_hat_k(6, 2, k) == pytest.approx(sum(all(s) for s in subsets) / len(subsets))


def test_means_weigh_each_task_the_same():
    counts = [(5, 2), (5, 5), (10, 0)]
    assert mean_pass_at_k(counts, 2) == pytest.approx((0.7 + 1.0 + 0.0) / 3)
    assert mean_pass_hat_k(counts, 2) == pytest.approx((0.1 + 1.0 + 0.0) / 3)
    assert math.isnan(mean_pass_at_k([], 1))


def test_bad_counts_are_refused_in_one_line():
    with pytest.raises(ValueError, match=r"k=6 must be between 1 and the number of trials n=5"):
        pass_at_k(5, 2, 6)
    with pytest.raises(ValueError, match=r"successes c=7"):
        pass_hat_k(5, 7, 1)
    with pytest.raises(ValueError, match="k=0"):
        pass_at_k(5, 1, 0)


def test_success_rate():
    assert success_rate([True, False, True, True]) == 0.75
    assert math.isnan(success_rate([]))


def test_call_counts_by_kind():
    counts = count_calls([None, None, "invalid_json", "tool_error", None, "unknown_tool", "timeout", None])
    assert counts.total == 8 and counts.errors == 4
    assert counts.ok_rate == pytest.approx(4 / 8)
    assert counts.valid_rate == pytest.approx(6 / 8)      # tool_error and timeout calls were valid calls
    assert counts.by_kind["invalid_args"] == 0 and counts.by_kind["invalid_json"] == 1
    assert counts.rate("tool_error") == pytest.approx(1 / 8)
    assert math.isnan(count_calls([]).valid_rate)
    with pytest.raises(ValueError, match="unknown call error kind"):
        count_calls(["bogus"])


@st.composite
def n_c_k(draw):
    n = draw(st.integers(1, 40))
    return n, draw(st.integers(0, n)), draw(st.integers(1, n))


@given(n_c_k())
def test_bounds_and_order(nck):
    n, c, k = nck
    at, hat = pass_at_k(n, c, k), pass_hat_k(n, c, k)
    assert 0.0 <= hat <= at <= 1.0
    assert pass_at_k(n, c, 1) == pytest.approx(c / n) == pass_hat_k(n, c, 1)


@given(n_c_k())
def test_monotone_in_k(nck):
    n, c, k = nck
    if k < n:
        assert pass_at_k(n, c, k + 1) >= pass_at_k(n, c, k) - 1e-12
        assert pass_hat_k(n, c, k + 1) <= pass_hat_k(n, c, k) + 1e-12


@given(n_c_k())
def test_monotone_in_successes(nck):
    n, c, k = nck
    if c < n:
        assert pass_at_k(n, c + 1, k) >= pass_at_k(n, c, k)
        assert pass_hat_k(n, c + 1, k) >= pass_hat_k(n, c, k)
