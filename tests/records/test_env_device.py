"""The environment names the device llama.cpp computes on, with its memory, in env.json and every row."""
from __future__ import annotations

import psutil
import pytest

from harness.records import env


@pytest.mark.parametrize("backends, accel", [(["CPU"], "cpu"), (["Metal", "BLAS"], "metal"), (["MTL", "CPU"], "metal"),
                                             (["CUDA", "CPU"], "cuda"), (["Vulkan"], "vulkan"), ([], "cpu")])
def test_accel_from_backend_names(backends, accel):
    assert env.accel_of(backends) == accel


def test_the_cpu_is_the_device_of_a_cpu_build_with_the_ram_as_its_memory():
    e = env.environment()
    ram_mb = round(psutil.virtual_memory().total / 2**20)
    assert e["accel"] == "cpu" and e["device"] == env.cpu_model() and e["device_mem_mb"] == ram_mb
    row = env.row_columns()
    assert (row["device"], row["device_mem_mb"], row["accel"]) == (e["device"], ram_mb, "cpu")
    assert row["os"] and row["cpu_info"] and row["llama_cpp_python"]


def test_a_gpu_tool_that_is_missing_leaves_the_device_unknown_not_an_error():
    name, mem = env.device("vulkan")  # no vulkaninfo on this machine, or one without a GPU
    assert isinstance(name, str) and mem is None
