"""The one schema: llama-bench names, writer discipline, docs, environment parsing."""
from __future__ import annotations

import csv

import pytest
from cli_runner import ROOT

from harness.records import env, writer
from harness.records.schema import COLUMNS, NAMES

LLAMA_BENCH = ["model_filename", "model_type", "model_size", "model_n_params", "n_batch", "n_ubatch",
               "n_threads", "type_k", "type_v", "n_gpu_layers", "flash_attn", "use_mmap", "n_prompt",
               "n_gen", "n_depth", "test_time", "avg_ns", "stddev_ns", "avg_ts", "stddev_ts"]
OURS = ["run_id", "backend", "mode", "workload", "model_name", "quant", "n_ctx", "load_s", "peak_rss_mb",
        "status", "error", "os", "cpu_info", "gpu_info", "accel", "build_commit", "harness_commit"]


def test_schema_has_llama_bench_and_our_columns_once():
    assert len(NAMES) == len(set(NAMES))
    assert set(LLAMA_BENCH + OURS) <= set(NAMES)
    assert {c.name for c in COLUMNS if c.llama_bench} >= set(LLAMA_BENCH)


def test_docs_document_every_column():
    doc = (ROOT / "docs" / "BENCHMARKS.md").read_text()
    missing = [n for n in NAMES if f"`{n}`" not in doc]
    assert not missing


def test_rows_append_in_schema_order_and_unknown_columns_are_refused(tmp_path):
    writer.append_row(tmp_path, {"run_id": "r", "status": "ok", "avg_ts": 1.5})
    writer.append_row(tmp_path, {"run_id": "r", "status": "failed", "error": "boom"})
    rows = list(csv.reader((tmp_path / writer.RESULTS).open()))
    assert rows[0] == list(NAMES) and len(rows) == 3
    assert rows[2][NAMES.index("error")] == "boom"
    with pytest.raises(KeyError):
        writer.append_row(tmp_path, {"not_a_column": 1})


@pytest.mark.parametrize("info, accel, backends", [
    ("CPU : SSE3 = 1 | AVX2 = 1 | OPENMP = 1 | ", "cpu", ["CPU"]),
    ("CUDA : ARCHS = 890 | USE_GRAPHS = 1 | PEER_MAX_BATCH_SIZE = 128 | CPU : AVX2 = 1 | ", "cuda", ["CUDA", "CPU"]),
    ("MTL : EMBED_LIBRARY = 1 | CPU : NEON = 1 | ARM_FMA = 1 | ", "metal", ["MTL", "CPU"]),
    ("Vulkan : ... | CPU : AVX = 1 | ", "vulkan", ["Vulkan", "CPU"]),
])
def test_accelerator_from_llama_cpp_system_info(info, accel, backends):
    assert env.accelerator(info) == accel
    assert env.compute_backends(info) == backends


def test_environment_record_of_this_machine():
    e = env.environment()
    assert e["accel"] == "cpu" and "CPU" in e["backends"]
    assert e["llama_cpp_python"] and e["cpu_info"] and e["mem_total_mb"] > 0
    assert set(env.ROW_KEYS) <= set(NAMES)
