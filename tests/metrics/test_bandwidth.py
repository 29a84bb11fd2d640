"""Memory bandwidth: the copy benchmark on this machine, its per-machine cache, and known devices."""
from __future__ import annotations

import json

import pytest

from harness.metrics import bandwidth
from harness.records.env import cpu_model


def test_copy_benchmark_gives_a_plausible_rate():
    gbs = bandwidth.copy_gbs(buffer_mb=64, repeats=2)
    assert 0.5 < gbs < 5000  # a memcpy of 64 MiB: from a slow VM to an HBM part


def test_this_cpu_is_measured_once_then_read_from_the_cache(tmp_path, monkeypatch):
    first = bandwidth.this_cpu_gbs(tmp_path, buffer_mb=64, repeats=2)
    cached = json.loads((tmp_path / bandwidth.CACHE_FILE).read_text())
    assert cached[bandwidth.machine_key()]["gbs"] == first

    def no_second_measurement(**kw):
        raise AssertionError("measured again")
    monkeypatch.setattr(bandwidth, "copy_gbs", no_second_measurement)
    assert bandwidth.this_cpu_gbs(tmp_path) == first


@pytest.mark.parametrize("name, gbs", [
    ("NVIDIA GeForce RTX 4090", 1008), ("NVIDIA GeForce RTX 3090 Ti", 1008), ("NVIDIA GeForce RTX 3090", 936),
    ("NVIDIA GeForce RTX 5090", 1792), ("NVIDIA A100-SXM4-80GB", 2039), ("NVIDIA A100 80GB PCIe", 1935),
    ("NVIDIA A100-PCIE-40GB", 1555), ("NVIDIA H100 80GB HBM3", 3350), ("NVIDIA H100 PCIe", 2000),
    ("Apple M1", 68.25), ("Apple M1 Max", 400), ("Apple M2 Ultra", 800), ("Apple M3 Pro", 150),
    ("Apple M4 Max", 546), ("Apple M4", 120),
])
def test_known_devices(name, gbs):
    assert bandwidth.known_device(name)[0] == gbs


def test_which_bandwidth_a_run_gets():
    assert bandwidth.device_gbs("cuda", "NVIDIA GeForce RTX 4090", "x")[0] == 1008
    assert bandwidth.device_gbs("cuda", "Some Future GPU", "x") == (None, "")
    assert bandwidth.device_gbs("vulkan", "Some Future GPU", "x", given=300)[0] == 300
    assert bandwidth.device_gbs("cpu", "", "a CPU this machine does not have") == (None, "")
    gbs, source = bandwidth.device_gbs("cpu", cpu_model(), cpu_model())
    assert gbs > 0 and "copy benchmark" in source


def test_a_software_gpu_on_this_cpu_gets_the_host_bandwidth_and_elsewhere_none():
    host, _ = bandwidth.device_gbs("cpu", cpu_model(), cpu_model())
    gbs, source = bandwidth.device_gbs("vulkan", "Vulkan0: llvmpipe (LLVM 15.0.6, 256 bits)", cpu_model())
    assert gbs == host and "software device" in source
    assert bandwidth.device_gbs("vulkan", "Vulkan0: llvmpipe (LLVM 15.0.6, 256 bits)", "another CPU") == (None, "")
