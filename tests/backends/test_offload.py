"""The offload and device axes (n_cpu_moe, tensor_buft_overrides, no_kv_offload, split_mode, main_gpu,
tensor_split): validated in one line, mapped onto llama_model_params and llama-server's flags, seen
in llama.cpp's load log on this CPU build, and refused in one line where the build lacks the device.
"""
from __future__ import annotations

import itertools

import llama_cpp
import pytest

from harness.backends import inprocess
from harness.backends.inprocess import BackendError, InProcessBackend
from harness.backends.server import ServerError, ensure_server, memory_columns, model_args, release_server
from harness.config.plan import plan
from harness.config.validate import ConfigError
from harness.models.llama_log import llama_log

BASE = ("backend.n_ctx=256", "backend.n_batch=32", "backend.n_ubatch=32", "backend.n_threads=1",
        "workload.n_prompt=16", "workload.n_gen=4")
SERVED = ("workload=chat", "backend=http", *BASE)
MMAP_WARNING = "tensor overrides to CPU are used with mmap enabled"  # llama-model-loader.cpp, WARN


@pytest.mark.parametrize(("override", "said"), [
    ("backend.n_cpu_moe=-1", "backend.n_cpu_moe=-1 is out of range"),
    ("backend.main_gpu=-2", "backend.main_gpu=-2 is out of range"),
    ("backend.split_mode=diagonal", "backend.split_mode='diagonal' is not allowed; choose one of: none, layer, row"),
    ("backend.tensor_buft_overrides=exps", "'exps' is not PATTERN=BUFFER_TYPE"),
    ('backend.tensor_buft_overrides="ffn_(up=CPU"', "is not a regular expression"),
    ("backend.tensor_split=3/x", "backend.tensor_split='3/x' is not a list of proportions"),
    ("backend.tensor_split=0/0", "proportions must be >= 0 and not all 0"),
])
def test_bad_values_are_refused_in_one_line(override, said):
    with pytest.raises(ConfigError) as e:
        plan(["model=synthetic-tiny", override], multirun=False)
    assert said in str(e.value) and "\n" not in str(e.value)


def test_a_server_we_do_not_start_takes_no_offload_axis():
    with pytest.raises(ConfigError, match=r"backend.n_cpu_moe=2 needs a backend that loads the model"):
        plan(["model=synthetic-tiny", "workload=chat", "backend=http_external", "backend.url=http://127.0.0.1:9",
              "backend.n_cpu_moe=2"], multirun=False)
    plan(["model=synthetic-tiny", "workload=chat", "backend=http_external", "backend.url=http://127.0.0.1:9",
          "backend.tensor_buft_overrides=none"], multirun=False)  # none: the default spelled out


def test_server_flags_for_each_axis(tiny_cfg, tiny_model, binary):
    from harness.backends.server import supported_flags
    flags = supported_flags(binary)
    cfg = tiny_cfg(*SERVED, "backend.n_cpu_moe=2", r'backend.tensor_buft_overrides="blk\.0\.attn_q=CPU;exps=CPU"',
                   "backend.no_kv_offload=true", "backend.split_mode=row").backend
    args = model_args(cfg, tiny_model, flags, str(binary))
    pairs = set(itertools.pairwise(args))
    assert ("-ncmoe", "2") in pairs and ("-sm", "row") in pairs and "-nkvo" in args
    assert ("-ot", r"blk\.0\.attn_q=CPU,exps=CPU") in pairs  # llama-server splits -ot on commas
    assert ("-lv", "4") in pairs  # its info lines: the buffer sizes
    plain = model_args(tiny_cfg(*SERVED).backend, tiny_model, flags, str(binary))
    assert not {"-ncmoe", "-ot", "-nkvo", "-sm", "-mg", "-ts"} & set(plain)  # defaults: llama-server's own


@pytest.mark.slow
def test_inprocess_axes_reach_llama_cpp(tiny_cfg, tiny_model):
    cfg = tiny_cfg(*BASE, "backend.n_cpu_moe=1", 'backend.tensor_buft_overrides="attn_q=CPU"',
                   "backend.no_kv_offload=true", "backend.split_mode=row", "backend.tensor_split=1").backend
    inprocess.release_model()
    log = llama_log()
    mark = log.mark()
    b = InProcessBackend(cfg, tiny_model)
    try:
        b.start()
        overridden = [ln for ln in log.since(mark) if "buffer type overridden to CPU" in ln]
        names = {ln.split()[1] for ln in overridden}
        assert "blk.0.ffn_up_exps.weight" in names and "blk.0.ffn_gate_exps.weight" in names  # -ncmoe 1
        assert "blk.1.ffn_up_exps.weight" not in names  # only the first layer's experts
        assert {"blk.0.attn_q.weight", "blk.1.attn_q.weight"} <= names  # -ot attn_q=CPU
        b.decode(b.tokenize("hello world"))  # the model runs with them
        info = b.info()
        assert info["mem_model_mb"] > 0 and info["mem_kv_mb"] > 0 and info["mem_compute_mb"] > 0
        assert "model=" in info["mem_by_buft"] and "kv=" in info["mem_by_buft"]
        params = inprocess._MODEL["params"]
        assert params.split_mode == llama_cpp.LLAMA_SPLIT_MODE_ROW and params.tensor_split[0] == 1.0
        assert b.ctx_params.offload_kqv is False
    finally:
        b.stop()
        inprocess.release_model()


@pytest.mark.slow
@pytest.mark.parametrize(("override", "said"), [
    ('backend.tensor_buft_overrides="exps=CUDA0"', "no buffer type 'CUDA0' in this llama.cpp build; it has: CPU"),
    ("backend.main_gpu=3", "backend.main_gpu=3: this llama.cpp build has 0 GPU device(s)"),
    ("backend.tensor_split=3/1", "backend.tensor_split=3/1 names 2 devices"),
])
def test_inprocess_refuses_a_device_the_build_lacks(tiny_cfg, tiny_model, override, said):
    b = InProcessBackend(tiny_cfg(*BASE, override).backend, tiny_model)
    try:
        with pytest.raises(BackendError) as e:
            b.start()
        assert said in str(e.value) and "\n" not in str(e.value)
    finally:
        b.stop()


@pytest.mark.slow
def test_server_axes_reach_llama_cpp(tiny_cfg, tiny_model, tmp_path, binary):
    cfg = tiny_cfg(*SERVED, "backend.n_cpu_moe=1", 'backend.tensor_buft_overrides="attn_q=CPU"',
                   "backend.no_kv_offload=true", "backend.split_mode=none").backend
    try:
        srv = ensure_server(cfg, tiny_model, tmp_path)
        log = srv.log_path.read_text()
        assert MMAP_WARNING in log  # llama.cpp applied a tensor override to CPU at load
        assert "Setting the split mode has no effect" in log  # llama-server read -sm (no GPU here)
        mem = memory_columns(srv)
        assert mem["mem_model_mb"] > 0 and mem["mem_kv_mb"] > 0 and "CPU" in mem["mem_by_buft"]
        with pytest.raises(ServerError) as e:
            ensure_server(tiny_cfg(*SERVED, 'backend.tensor_buft_overrides="exps=CUDA0"').backend, tiny_model, tmp_path)
        assert "unknown buffer type" in str(e.value) and "\n" not in str(e.value)
        with pytest.raises(ServerError, match=r"backend.main_gpu=3: .* has 0 GPU device\(s\)"):
            ensure_server(tiny_cfg(*SERVED, "backend.main_gpu=3").backend, tiny_model, tmp_path)
    finally:
        release_server()
