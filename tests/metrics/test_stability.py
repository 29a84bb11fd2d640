"""An unstable row (CV of its repetitions above the limit) and the likely causes read from its columns."""
from __future__ import annotations

import pytest

from harness.metrics import stability

STEADY = [100.0, 101.0, 99.0, 100.5, 99.5, 100.0]


def test_the_cv_comes_from_samples_then_cv_ts_then_stddev_over_mean():
    assert stability.row_cv({"cv_ts": "0.5"}, [100.0, 110.0, 90.0]) == pytest.approx(0.1)
    assert stability.row_cv({"cv_ts": "0.07", "avg_ts": "100", "stddev_ts": "30"}) == pytest.approx(0.07)
    assert stability.row_cv({"cv_ts": "", "avg_ts": "200", "stddev_ts": "30"}) == pytest.approx(0.15)  # older rows
    assert stability.row_cv({"cv_ts": "nan", "avg_ts": "200", "stddev_ts": ""}) is None
    assert stability.unstable({"cv_ts": "0.06"}) and not stability.unstable({"cv_ts": "0.04"})
    assert not stability.unstable({"cv_ts": "0.06"}, limit=0.1)


def test_a_busy_machine_and_a_frequency_drop_are_named():
    row = {"other_cpu_pct": "62", "load_avg": "3.5", "cpu_mhz_start": "3000", "cpu_mhz_end": "2400",
           "repetitions": "10", "avg_ns": "1e8"}
    got = stability.causes(row, [100.0, 60.0, 100.0, 70.0, 95.0, 64.0, 99.0, 72.0, 98.0, 61.0])
    assert got[0].startswith("busy machine: other processes took 62%") and "load average 3.50" in got[0]
    assert any("3000 to 2400 MHz" in c for c in got) and len(got) == 2
    quiet = {**row, "other_cpu_pct": "4", "cpu_mhz_end": "2990"}
    assert not any("busy" in c or "MHz" in c for c in stability.causes(quiet, [100.0, 60.0, 100.0, 70.0, 95.0]))


def test_warm_up_a_trend_few_repetitions_and_a_short_test():
    warm = stability.causes({"avg_ns": "1e8"}, [60.0, *STEADY])  # only the first repetition is off
    assert len(warm) == 1 and warm[0].startswith("first-repetition warm-up: without it the CV is 0.7%")
    slowing = stability.causes({"avg_ns": "1e8"}, [110.0, 105.0, 100.0, 96.0, 90.0, 86.0])
    assert len(slowing) == 1 and "slowed one after another" in slowing[0]
    few = stability.causes({"repetitions": "3", "avg_ns": "2e6"})  # no samples: n from the row
    assert [c.split(" (")[0] for c in few] == ["few repetitions", "a short test"]
    assert stability.causes({"avg_ns": "1e8"}, [100.0, 80.0, 120.0, 85.0, 115.0, 100.0])[0].startswith("no cause")
