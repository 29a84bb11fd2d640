"""The llama-bench comparison's numbers from per-repetition rates (the runs themselves need a
llama-bench build: `make vs-llama-bench`)."""
import pytest

from harness.sweep.vs_llama_bench import compare_line


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip(" |").split("|")]


def test_ratio_of_means_with_an_interval_and_ratio_of_best_rounds():
    ref = [[100.0, 102.0, 98.0], [90.0, 91.0, 89.0]]
    ours = [[95.0, 97.0, 93.0], [96.0, 94.0, 95.0]]
    ref_cell, ours_cell, ratio, _, best = _cells(compare_line(ref, ours))
    assert ref_cell.startswith("95.00 ± ")
    assert ours_cell.startswith("95.00 ± ")
    mid, interval = ratio.split(" ", 1)
    lo, hi = (float(x) for x in interval.strip("[]").split(","))
    assert float(mid) == pytest.approx(1.0)
    assert lo < 1.0 < hi
    assert float(best) == pytest.approx(95.0 / 100.0, abs=1e-3)  # best rounds: 95 vs 100


def test_a_slower_side_shows_below_one_and_its_interval_excludes_one():
    ref = [[100.0, 101.0, 99.0, 100.5]] * 3
    ours = [[90.0, 91.0, 89.0, 90.5]] * 3
    _, _, ratio, paired, _ = _cells(compare_line(ref, ours))
    mid, interval = ratio.split(" ", 1)
    _lo, hi = (float(x) for x in interval.strip("[]").split(","))
    assert float(mid) == pytest.approx(0.9, abs=1e-3)
    assert hi < 1.0
    assert float(paired.split()[0]) == pytest.approx(0.9, abs=1e-3)


def test_pairing_by_round_cancels_drift_that_widens_the_pooled_interval():
    # the machine slows by a third between rounds; ours is 2% below in every round
    ref = [[100.0, 101.0, 99.0], [70.0, 71.0, 69.0], [85.0, 86.0, 84.0], [100.0, 99.5, 100.5]]
    ours = [[x * 0.98 for x in r] for r in ref]
    _, _, pooled, paired, _ = _cells(compare_line(ref, ours))
    plo, phi = (float(x) for x in pooled.split(" ", 1)[1].strip("[]").split(","))
    mid, interval = paired.split(" ", 1)
    lo, hi = (float(x) for x in interval.strip("[]").split(","))
    assert float(mid) == pytest.approx(0.98, abs=1e-3)
    assert hi < 1.0 and hi - lo < 0.01
    assert plo < 1.0 < phi  # the pooled ratio cannot tell 2% from drift


def _built_llama_bench():
    import glob
    import os
    found = sorted(glob.glob(os.path.expanduser("~/.cache/harness/llama-bench-*/build/bin/llama-bench")))
    return found[-1] if found else None


@pytest.mark.skipif(_built_llama_bench() is None, reason="no llama-bench build (make vs-llama-bench builds one)")
def test_llama_bench_hosted_in_this_process_and_in_its_own_give_samples(tiny_model):
    from harness.sweep.vs_llama_bench import HostedLlamaBench, llama_bench, llama_bench_args, wheel_libs_env
    from harness.workloads.pp_tg import Case
    binary = _built_llama_bench()
    args = llama_bench_args(tiny_model, Case(0, 16, 0), threads=1, b=64, ub=64, reps=2)
    hosted = HostedLlamaBench(binary)(args)
    separate = llama_bench(binary, args, wheel_libs_env())
    assert len(hosted) == len(separate) == 2
    assert all(x > 0 for x in hosted + separate)
