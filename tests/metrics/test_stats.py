"""The stats object and llama-bench's rate definitions on known numbers."""
from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.metrics.stats import bench_columns, describe, rates


def test_describe_known_values():
    s = describe([1.0, 2.0, 3.0, 4.0])
    assert (s.n, s.mean, s.min, s.max, s.median) == (4, 2.5, 1.0, 4.0, 2.5)
    assert s.stddev == pytest.approx(math.sqrt(5 / 3))          # sample (n-1) stddev
    assert s.ci95 == pytest.approx(3.182446 * math.sqrt(5 / 3) / 2, rel=1e-5)  # t(0.975, 3)
    assert describe([7.0]).stddev == 0 and describe([7.0]).ci95 == 0
    assert describe([]).n == 0 and math.isnan(describe([]).mean)


def test_avg_ts_is_the_mean_of_per_repetition_rates_as_llama_bench():
    # 100 tokens in 1 s and in 0.5 s: rates 100 and 200 t/s -> avg_ts 150 (not 100/0.75 = 133.3)
    cols = bench_columns([1_000_000_000, 500_000_000], 100)
    assert cols["avg_ts"] == pytest.approx(150.0)
    assert cols["stddev_ts"] == pytest.approx(math.sqrt(2 * 50.0 ** 2))
    assert cols["avg_ns"] == pytest.approx(750_000_000)
    assert rates([2_000_000_000], 64) == [32.0]


@given(st.lists(st.floats(min_value=1e-3, max_value=1e9), min_size=2, max_size=50))
def test_describe_orders_its_quantiles(xs):
    s = describe(xs)
    assert s.min <= s.median <= s.p90 <= s.p99 <= s.max
    assert s.min - 1e-6 * abs(s.min) <= s.mean <= s.max + 1e-6 * abs(s.max)
    assert s.stddev >= 0 and s.ci95 >= 0


def test_paired_ratio_is_the_geometric_mean_of_the_pairs_with_an_interval_around_it():
    from harness.metrics.stats import paired_ratio
    ref = [100.0, 70.0, 85.0, 100.0, 90.0]
    ours = [r * f for r, f in zip(ref, [0.97, 0.99, 0.96, 0.98, 0.97])]
    mid, lo, hi = paired_ratio(ref, ours)
    assert mid == pytest.approx((0.97 * 0.99 * 0.96 * 0.98 * 0.97) ** 0.2)
    assert 0.96 <= lo < mid < hi <= 0.99
    assert paired_ratio([100.0], [95.0]) == pytest.approx((0.95, 0.95, 0.95))  # one pair: no interval to draw


def test_cv_is_the_sample_stddev_over_the_mean_and_every_bench_row_carries_it():
    from harness.metrics.stats import cv
    assert cv([90.0, 100.0, 110.0]) == pytest.approx(10.0 / 100.0)  # sample stddev 10, mean 100
    assert math.isnan(cv([100.0])) and math.isnan(cv([]))             # one repetition has no spread
    cols = bench_columns([1_000_000_000, 500_000_000], 100)          # 100 and 200 t/s
    assert cols["cv_ts"] == pytest.approx(cols["stddev_ts"] / cols["avg_ts"])
