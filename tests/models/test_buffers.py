"""llama.cpp's buffer-size log lines -> the memory columns. The sample lines are as llama.cpp's sources
print them (llama-model.cpp, llama-kv-cache.cpp, llama-context.cpp, ggml-metal-device.m); the
in-process and server tests (tests/backends/test_offload.py, tests/records/test_memory_columns.py)
read them from real loads."""
from __future__ import annotations

from harness.models.buffers import kept, parse

LOAD = """\
load_tensors:          AMX model buffer size =   119.57 MiB
load_tensors:   CPU_Mapped model buffer size =   210.02 MiB
load_tensors:        CUDA0 model buffer size =  1024.00 MiB
llama_context:  CUDA_Host  output buffer size =     0.77 MiB
llama_kv_cache:      CUDA0 KV buffer size =     4.00 MiB
llama_kv_cache:      CUDA0 KV buffer size =     0.75 MiB
sched_reserve:      CUDA0 compute buffer size =   100.00 MiB
sched_reserve:  CUDA_Host compute buffer size =     9.00 MiB
sched_reserve:      CUDA0 compute buffer size =   120.50 MiB
"""


def test_totals_and_breakdown_per_buffer_type():
    mem = parse(LOAD.splitlines())
    cols = mem.columns()
    assert cols["mem_model_mb"] == 1353.59  # 119.57 + 210.02 + 1024.00
    assert cols["mem_kv_mb"] == 4.75  # the SWA model's two caches add up
    assert cols["mem_compute_mb"] == 130.27  # 120.50 + 9.00 + 0.77: a re-reservation replaces; output counts
    assert cols["mem_by_buft"] == ("AMX:model=119.57;CPU_Mapped:model=210.02;"
                                   "CUDA0:model=1024.00,kv=4.75,compute=120.50;CUDA_Host:output=0.77,compute=9.00")
    assert "gpu_mem_used_mb" not in cols


def test_server_log_prefix_and_metal_working_set():
    lines = ["0.01.532.364 I load_tensors:   Metal model buffer size =   590.79 MiB",
             "ggml_metal_log_allocated_size: allocated buffer, size =   512.00 MiB, (  530.50 / 10922.67)",
             "ggml_metal_log_allocated_size: allocated buffer, size =    64.00 MiB, (  594.50 / 10922.67)"]
    cols = parse(lines).columns()
    assert cols["mem_model_mb"] == 590.79 and cols["gpu_mem_used_mb"] == 594.50
    assert all(kept(ln) for ln in lines) and not kept("llama_context: n_ctx = 4096")


def test_nothing_logged_gives_empty_columns():
    assert parse(["llama_context: n_ctx = 4096"]).columns() == {}
