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
    if e["accel"] != "cpu":
        pytest.skip(f"a {e['accel']} build")
    ram_mb = round(psutil.virtual_memory().total / 2**20)
    assert e["accel"] == "cpu" and e["device"] == env.cpu_model() and e["device_mem_mb"] == ram_mb
    row = env.row_columns()
    assert (row["device"], row["device_mem_mb"], row["accel"]) == (e["device"], ram_mb, "cpu")
    assert row["os"] and row["cpu_info"] and row["llama_cpp_python"]


def test_a_gpu_build_without_a_visible_gpu_names_the_cpu_it_computes_on():
    from harness.backends.devices import gpus
    if gpus():
        pytest.skip("this llama.cpp sees a GPU")
    assert env.device("vulkan") == env.device("cuda") == env.device("cpu") == (env.cpu_model(), env.device("cpu")[1])


@pytest.mark.vulkan
def test_a_vulkan_build_names_its_vulkan_device_and_its_memory(vulkan_device):
    name, mem = env.device("vulkan")
    assert name == f"{vulkan_device.name}: {vulkan_device.description}" and name.startswith("Vulkan0: ")
    assert mem == vulkan_device.total_mb and mem > 0
    assert env.environment()["accel"] == "vulkan"
