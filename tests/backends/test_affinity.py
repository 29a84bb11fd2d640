"""CPU pinning (backend.cpu_mask, llama-bench's -C): the mask, its refusals, and the in-process
backend pinning every thread of the process for a point and putting the old masks back."""
from __future__ import annotations

import os
import threading

import pytest
from cli_runner import harness

from harness.backends import affinity
from harness.backends.inprocess import InProcessBackend
from harness.backends.server import model_args
from harness.config.values import MaskError, parse_cpu_mask

linux_only = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="sched_setaffinity is Linux's")


@pytest.mark.parametrize("mask, cpus", [("0x0", set()), ("0x2", {1}), ("3", {0, 1}), ("0X5", {0, 2}), ("0xff", set(range(8)))])
def test_parse_reads_llama_bench_hex_masks(mask, cpus):
    assert parse_cpu_mask(mask) == cpus


def test_a_mask_that_is_not_hex_is_refused_with_the_value():
    with pytest.raises(MaskError, match=r"backend.cpu_mask='two' is not a hex CPU mask"):
        parse_cpu_mask("two")


@linux_only
def test_a_cpu_this_process_cannot_run_on_is_refused_on_one_line(tmp_path):
    missing = max(os.sched_getaffinity(0)) + 1
    r = harness("bench", "model=synthetic-tiny", f"backend.cpu_mask={hex(1 << missing)}",
                f"hydra.run.dir={tmp_path}/run")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert f"names CPUs [{missing}]" in lines[0] and "allowed" in lines[0]
    assert not (tmp_path / "run").exists()


@linux_only
def test_pin_covers_every_thread_and_restore_gives_the_masks_back():
    before = os.sched_getaffinity(0)
    one = frozenset({min(before)})
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        saved = affinity.pin(one)
        assert os.sched_getaffinity(0) == one
        assert os.sched_getaffinity(t.native_id) == one
        affinity.restore(saved)
        assert os.sched_getaffinity(0) == before
        assert os.sched_getaffinity(t.native_id) == before
    finally:
        stop.set()
        t.join()


@linux_only
def test_inprocess_backend_runs_pinned_and_unpins_when_the_point_ends(tiny_cfg, tiny_model):
    before = os.sched_getaffinity(0)
    cpu = max(before)
    b = InProcessBackend(tiny_cfg(f"backend.cpu_mask={hex(1 << cpu)}", "backend.n_threads=1").backend, tiny_model)
    b.start()
    try:
        assert os.sched_getaffinity(0) == {cpu}
        assert b.info()["cpu_mask"] == hex(1 << cpu)
        b.decode_each([1, 2, 3])
    finally:
        b.stop()
    assert os.sched_getaffinity(0) == before


def test_llama_server_gets_the_mask_as_its_own_flag(tiny_cfg, tmp_path):
    flags = frozenset({"-m", "-c", "-b", "-ub", "-lm", "-ngl", "-fa", "-t", "-np", "-C"})
    # repack on: llama-server's default, no flag (this flag set has no -nr)
    pinned = model_args(tiny_cfg("backend.cpu_mask=0x2", "backend.repack=true").backend, tmp_path / "m.gguf", flags)
    assert pinned[pinned.index("-C") + 1] == "0x2"
    assert "-C" not in model_args(tiny_cfg("backend.repack=true").backend, tmp_path / "m.gguf", flags)
