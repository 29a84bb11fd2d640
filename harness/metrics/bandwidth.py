"""Memory bandwidth of the device a run computed on: a copy benchmark for this machine's CPU
(cached per machine), published figures for known GPUs and Apple SoCs, or a number given.

The copy benchmark copies a buffer much larger than any cache with numpy, split over the physical
cores (numpy releases the GIL while copying), best of N; GB/s counts bytes read plus bytes written,
as STREAM's Copy does.
"""
from __future__ import annotations

import json
import platform
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import psutil

from harness.models.vocab import cache_root
from harness.records.env import cpu_model

# Published peak memory bandwidth, GB/s; the first pattern that matches the device name wins, so a
# variant comes before its base name (M1 Max before M1, RTX 3090 Ti before RTX 3090).
KNOWN_DEVICES: tuple[tuple[str, float], ...] = (
    (r"\bM1 Ultra", 800), (r"\bM1 Max", 400), (r"\bM1 Pro", 200), (r"\bM1\b", 68.25),
    (r"\bM2 Ultra", 800), (r"\bM2 Max", 400), (r"\bM2 Pro", 200), (r"\bM2\b", 100),
    (r"\bM3 Ultra", 819), (r"\bM3 Max", 400), (r"\bM3 Pro", 150), (r"\bM3\b", 100),
    (r"\bM4 Max", 546), (r"\bM4 Pro", 273), (r"\bM4\b", 120),
    (r"RTX 5090", 1792), (r"RTX 4090", 1008), (r"RTX 3090 Ti", 1008), (r"RTX 3090", 936),
    (r"A100.*80\s*GB.*PCI|A100.*PCI.*80\s*GB", 1935), (r"A100.*80\s*GB", 2039), (r"A100", 1555),
    (r"H100.*NVL", 3900), (r"H100.*PCI", 2000), (r"H100", 3350),
)

CACHE_FILE = "membw.json"
# Software GPU drivers that compute on the host CPU from host memory: their bandwidth is the host's.
SOFTWARE_DEVICES = r"llvmpipe|lavapipe|SwiftShader"


def known_device(name: str) -> tuple[float, str] | None:
    """(GB/s, the table entry) for a device name such as 'NVIDIA GeForce RTX 4090' or 'Apple M2 Max'."""
    for pattern, gbs in KNOWN_DEVICES:
        if re.search(pattern, name, re.IGNORECASE):
            return float(gbs), pattern
    return None


def copy_gbs(buffer_mb: int = 512, repeats: int = 10, threads: int | None = None) -> float:
    """Best copy bandwidth (read + write bytes per second, GB/s) over `repeats` copies."""
    n = buffer_mb * 2**20 // 8
    src = np.ones(n, dtype=np.float64)
    dst = np.empty_like(src)
    threads = threads or psutil.cpu_count(logical=False) or 1
    chunks = [slice(i * n // threads, (i + 1) * n // threads) for i in range(threads)]

    def copy() -> float:
        t0 = time.perf_counter()
        list(pool.map(lambda s: np.copyto(dst[s], src[s]), chunks))
        return time.perf_counter() - t0

    with ThreadPoolExecutor(threads) as pool:
        copy()  # faults the destination's pages in: not timed
        best = min(copy() for _ in range(repeats))
    return 2 * src.nbytes / best / 1e9


def machine_key() -> str:
    return f"{platform.node()}|{cpu_model()}|{psutil.virtual_memory().total}"


def this_cpu_gbs(cache_dir: Path | None = None, buffer_mb: int = 512, repeats: int = 10,
                 threads: int | None = None) -> float:
    """This machine's copy bandwidth, measured once and cached in the harness cache folder."""
    path = (cache_dir or cache_root()) / CACHE_FILE
    try:
        cached = json.loads(path.read_text())
    except (OSError, ValueError):
        cached = {}
    key = machine_key()
    if key in cached:
        return float(cached[key]["gbs"])
    gbs = copy_gbs(buffer_mb, repeats, threads)
    cached[key] = {"gbs": round(gbs, 2), "method": "numpy copy, best of N, read + write bytes",
                   "measured": time.strftime("%Y-%m-%dT%H:%M:%S")}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(cached, indent=2) + "\n")
    tmp.replace(path)
    return float(cached[key]["gbs"])


def device_gbs(accel: str, device: str, cpu_info: str, given: float | None = None) -> tuple[float | None, str]:
    """(GB/s, where it came from) for a run's device: given > known GPU/SoC (accel other than cpu) >
    this machine's copy benchmark (accel=cpu, or a software GPU such as llvmpipe, on this very CPU);
    (None, "") when unknown."""
    if given:
        return float(given), "given"
    software = bool(re.search(SOFTWARE_DEVICES, device, re.IGNORECASE))
    if accel and accel != "cpu" and not software:
        known = known_device(device)
        return (known[0], f"published figure for {device}") if known else (None, "")
    if cpu_info and cpu_info == cpu_model():
        source = "copy benchmark on this machine" + (" (a software device: host memory)" if software else "")
        return this_cpu_gbs(), source
    return None, ""
