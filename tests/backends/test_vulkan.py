"""The GPU code paths on a Vulkan device (on a machine without a GPU: Mesa's software device, lavapipe).

What each offload setting does is read from the buffers llama.cpp allocated (mem_by_buft): which
device holds the model's layers, the experts, the KV cache. Every point runs with flash attention
off: this llama.cpp's flash-attention decode crashes on lavapipe (SIGSEGV), a crashed row, not
a lost sweep, but not what these tests are about. `make test-vulkan` runs them on the Vulkan build.
"""
from __future__ import annotations

import csv
import os
import subprocess
from pathlib import Path

import pytest
from cli_runner import ROOT, harness

from harness.models.buffers import Memory, from_breakdown

pytestmark = pytest.mark.vulkan
BASE = ("model=synthetic-small", "model.quant=Q8_0", "backend.flash_attn=off", "backend.n_threads=2",
        "workload.n_prompt=16", "workload.n_gen=4", "workload.repetitions=1")
POINTS = {  # name: overrides on top of BASE
    "ngl0": ("backend.n_gpu_layers=0",),
    "all": ("backend.n_gpu_layers=99",),
    "ncmoe": ("backend.n_gpu_layers=99", "backend.n_cpu_moe=99"),
    "exps_cpu": ("backend.n_gpu_layers=99", 'backend.tensor_buft_overrides="exps=CPU"'),
    "nkvo": ("backend.n_gpu_layers=99", "backend.no_kv_offload=true"),
    "no_device": ("backend.n_gpu_layers=99", 'backend.tensor_buft_overrides="exps=Vulkan3"'),
    "http_all": ("backend=http", "backend.n_gpu_layers=99"),
    "http_ncmoe": ("backend=http", "backend.n_gpu_layers=99", "backend.n_cpu_moe=99"),
}


class Run:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        with open(folder / "results.csv") as f:
            self.rows = list(csv.DictReader(f))

    def memory(self) -> Memory:
        assert self.rows and all(r["status"] == "ok" for r in self.rows), [(r["status"], r["error"]) for r in self.rows]
        return from_breakdown(self.rows[0]["mem_by_buft"])

    def log(self) -> str:
        return (self.folder / "llama.log").read_text(errors="replace")


def bench(out: Path, *overrides: str) -> Run:
    r = harness("bench", *BASE, *overrides, f"hydra.run.dir={out}", timeout=900)
    assert (out / "results.csv").is_file(), r.stderr[-2000:]
    return Run(out)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, vulkan_device) -> dict[str, Run]:
    root = tmp_path_factory.mktemp("vulkan")
    return {name: bench(root / name, *extra) for name, extra in POINTS.items()}


def test_rows_name_the_vulkan_build_and_its_device(runs, vulkan_device):
    row = runs["all"].rows[0]
    assert row["accel"] == "vulkan" and "Vulkan" in row["backends"].split(",")
    assert row["gpu_info"] == vulkan_device.description
    assert row["device"] == f"{vulkan_device.name}: {vulkan_device.description}"
    assert int(row["device_mem_mb"]) == vulkan_device.total_mb


def test_all_layers_move_the_model_and_kv_cache_from_the_host_to_the_device(runs, vulkan_device):
    none, full = runs["ngl0"].memory(), runs["all"].memory()
    dev = vulkan_device.name
    assert dev not in none.on_devices("model") and dev not in none.on_devices("kv")
    assert full.on_devices("model")[dev] > 0 and full.on_devices("kv")[dev] > 0
    assert "host" not in full.on_devices("kv")
    # the layers moved: what the device holds left the host (the token embedding stays on the host)
    moved = full.on_devices("model")[dev]
    assert none.on_devices("model")["host"] == pytest.approx(full.on_devices("model")["host"] + moved, rel=0.02)
    assert {r["n_gpu_layers"] for r in runs["all"].rows} == {"99"} and {r["n_gpu_layers"] for r in runs["ngl0"].rows} == {"0"}


def test_decode_runs_where_the_layers_are(runs):
    """llama.cpp's own account of the load: no layer on the GPU at 0, every layer (and the output) at 99."""
    def offloaded(run: Run) -> tuple[int, int]:
        line = next(ln for ln in run.log().splitlines() if "layers to GPU" in ln and "offloaded " in ln)
        done, total = line.split("offloaded ")[1].split()[0].split("/")
        return int(done), int(total)
    assert offloaded(runs["ngl0"])[0] == 0
    done, total = offloaded(runs["all"])
    assert done == total > 0


def test_experts_stay_on_the_host_while_attention_runs_on_the_device(runs, vulkan_device):
    dev = vulkan_device.name
    full, ncmoe, exps = runs["all"].memory(), runs["ncmoe"].memory(), runs["exps_cpu"].memory()
    experts = full.on_devices("model")[dev] - ncmoe.on_devices("model")[dev]
    assert experts > 0.5 * full.on_devices("model")[dev]  # a MoE model: most layer weight is in its experts
    assert ncmoe.on_devices("model")[dev] > 0  # attention, norms, router stay on the device
    # mmap'd, the host buffer is the file range spanning its tensors, gaps included: within 2%
    assert ncmoe.on_devices("model")["host"] == pytest.approx(full.on_devices("model")["host"] + experts, rel=0.02)
    assert ncmoe.on_devices("kv") == full.on_devices("kv")  # the KV cache stays with attention
    # -ncmoe for every layer and -ot exps=CPU are the same placement
    assert exps.on_devices("model") == ncmoe.on_devices("model")
    assert runs["ncmoe"].rows[0]["n_cpu_moe"] == "99"
    assert runs["exps_cpu"].rows[0]["tensor_buft_overrides"] == "exps=CPU"


def test_no_kv_offload_keeps_the_kv_cache_on_the_host(runs, vulkan_device):
    full, nkvo = runs["all"].memory(), runs["nkvo"].memory()
    assert nkvo.on_devices("kv") == {"host": full.on_devices("kv")[vulkan_device.name]}
    assert nkvo.on_devices("model") == full.on_devices("model")
    assert runs["nkvo"].rows[0]["no_kv_offload"] == "True"


def test_in_process_and_the_managed_server_put_the_same_tensors_on_the_same_devices(runs):
    for local, served in (("all", "http_all"), ("ncmoe", "http_ncmoe")):
        a, b = runs[local].memory(), runs[served].memory()
        assert b.on_devices("model") == a.on_devices("model"), (local, served)
        assert b.on_devices("kv") == a.on_devices("kv"), (local, served)
        row = runs[served].rows[0]
        assert row["backend"] == "http" and row["accel"] == "vulkan" and row["device"].startswith("Vulkan0")


def test_a_device_that_does_not_exist_fails_the_point_in_one_line(runs):
    rows = runs["no_device"].rows
    assert rows and all(r["status"] == "failed" for r in rows)
    assert all("Vulkan3" in r["error"] and "\n" not in r["error"] for r in rows)


@pytest.fixture(scope="module")
def cpu_harness() -> Path:
    exe = ROOT / ".venv" / "bin" / "harness"
    if not exe.is_file():
        pytest.skip("no CPU build beside the Vulkan one (`make install` makes .venv)")
    return exe


def test_the_same_sweep_on_the_cpu_and_the_vulkan_build_compares(tmp_path, runs, cpu_harness):
    """The accelerator comparison end to end: one point on each build, `harness compare` of the two."""
    cpu_run = tmp_path / "cpu"
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    r = subprocess.run([str(cpu_harness), "bench", *BASE, "backend.n_gpu_layers=99", f"hydra.run.dir={cpu_run}"],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    out = tmp_path / "compare"
    r = harness("compare", str(cpu_run), str(runs["all"].folder), "--out", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    text = (out / "compare.md").read_text()
    assert "| cpu |" in text and "| vulkan |" in text and "llvmpipe" in text
    # where the buffers are: all on the host for the CPU build, the layers and KV cache on Vulkan0 for the other
    placement = text.split("Where the buffers are")[1].splitlines()
    row = next(ln for ln in placement if ln.startswith("| all |")).split(" | ")
    assert row[1].startswith("host ") and "Vulkan0" not in row[1] and row[2].startswith("Vulkan0 ")
    assert row[3].startswith("host ") and row[4].startswith("Vulkan0 ")
