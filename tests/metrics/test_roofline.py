"""Bytes per generated token of real synthetic-tiny GGUFs (F16, Q8_0 from llama.cpp's quantizer),
against numbers derived here from the architecture alone."""
from __future__ import annotations

import pandas as pd
import pytest

from harness.metrics import roofline
from harness.models import cache

N_VOCAB = 201088  # o200k_harmony
F16, F32, Q8_0 = 2.0, 4.0, 34 / 32  # bytes per weight (Q8_0: 32 int8 and one f16 scale per block)


def expected_weights(a, w: float) -> tuple[float, float]:
    """(dense bytes, all-expert bytes) of a synthetic gpt-oss read per token: `w` bytes per weight of
    the matrices, F32 for norms, biases, sinks and the router; one row of the token embedding."""
    q, kv = a.n_head * a.head_dim, a.n_head_kv * a.head_dim
    layer_matrices = (q + 2 * kv) * a.n_embd + a.n_embd * q
    layer_f32 = (q + 2 * kv + a.n_embd) + a.n_head + 2 * a.n_embd + a.n_expert * a.n_embd + a.n_expert
    experts = a.n_layer * (3 * a.n_expert * a.n_ff_exp * a.n_embd * w
                           + (2 * a.n_expert * a.n_ff_exp + a.n_expert * a.n_embd) * F32)
    dense = (a.n_layer * (layer_matrices * w + layer_f32 * F32)
             + a.n_embd * w + a.n_embd * F32 + N_VOCAB * a.n_embd * w)
    return dense, experts


@pytest.fixture(scope="module")
def tiny(tiny_cfg):
    def path(quant: str, *more: str):
        cfg = tiny_cfg(f"model.quant={quant}", *more)
        return cache.prepare(cfg.model), cfg.model.arch
    return path


@pytest.mark.parametrize("quant, w", [("F16", F16), ("Q8_0", Q8_0)])
def test_weight_bytes_match_the_architecture(tiny, quant, w):
    path, arch = tiny(quant)
    mb = roofline.model_bytes(str(path))
    dense, experts = expected_weights(arch, w)
    assert mb.dense == pytest.approx(dense, abs=1)
    assert mb.experts_all == pytest.approx(experts, abs=1)
    assert (mb.n_expert, mb.n_expert_used) == (4, 2)
    assert mb.weights == pytest.approx(dense + experts * 2 / 4, abs=1)


def test_q8_0_reads_about_0_53_of_f16(tiny):
    f16 = roofline.model_bytes(str(tiny("F16")[0])).per_token(0, 128)
    q8 = roofline.model_bytes(str(tiny("Q8_0")[0])).per_token(0, 128)
    assert 0.52 < q8 / f16 < 0.545  # 34/32 over 2 bytes = 0.531, plus the F32 vectors and the KV


def test_only_the_top_k_experts_count(tiny):
    path2, arch = tiny("F16")
    path1, _ = tiny("F16", "model.arch.n_expert_used=1")
    two, one = roofline.model_bytes(str(path2)), roofline.model_bytes(str(path1))
    _, experts = expected_weights(arch, F16)
    assert one.n_expert_used == 1
    assert two.weights - one.weights == pytest.approx(experts / 4, abs=1)  # one expert of four per layer


def test_kv_reads_at_depth_with_the_sliding_window(tiny):
    path, arch = tiny("F16")
    mb = roofline.model_bytes(str(path))
    assert mb.swa == (True, False) and mb.window == 64  # gpt-oss: even layers slide
    positions = 1000 + 128 / 2
    per_pos = arch.n_head_kv * arch.head_dim * 2 * F16  # K and V, f16 cache
    kv = per_pos * (min(positions, 64) + positions)
    assert mb.per_token(1000, 128) == round(mb.weights + kv)
    per_pos_q8 = arch.n_head_kv * arch.head_dim * 2 * Q8_0
    assert mb.per_token(1000, 128, "q8_0", "q8_0") == round(mb.weights + per_pos_q8 * (64 + positions))


def test_fill_puts_the_roofline_on_tg_rows_only(tiny):
    path, _ = tiny("Q8_0")
    rows = pd.DataFrame([
        {"workload": "pp_tg", "status": "ok", "test": "tg128", "n_prompt": "0", "n_gen": "128", "n_depth": "0",
         "avg_ts": "150.0", "model_path": str(path), "accel": "cuda", "gpu_info": "NVIDIA GeForce RTX 4090"},
        {"workload": "pp_tg", "status": "ok", "test": "pp512", "n_prompt": "512", "n_gen": "0", "n_depth": "0",
         "avg_ts": "3000.0", "model_path": str(path), "accel": "cuda", "gpu_info": "NVIDIA GeForce RTX 4090"},
        {"workload": "pp_tg", "status": "ok", "test": "tg128", "n_prompt": "0", "n_gen": "128", "n_depth": "0",
         "avg_ts": "150.0", "model_filename": "not-here.gguf", "accel": "cuda", "gpu_info": "unknown GPU"}],
    ).fillna("").astype(str)
    out = roofline.fill(rows)
    b = roofline.model_bytes(str(path)).per_token(0, 128)
    assert out.bytes_per_token.tolist() == [str(b), "", ""]
    assert out.mem_bw_gbs.tolist() == ["1008.0", "", ""]  # the RTX 4090's published figure
    assert float(out.roofline_pct[0]) == pytest.approx(100 * 150 * b / 1008e9, abs=0.05)
    assert out.roofline_pct.tolist()[1:] == ["", ""]
    given = roofline.fill(rows, given_gbs=500.0)
    assert given.mem_bw_gbs[0] == "500.0" and float(given.roofline_pct[0]) == pytest.approx(100 * 150 * b / 500e9,
                                                                                          abs=0.05)


def _gguf_reader_value(field):
    """A field's value as gguf.GGUFReader parses it: str, number, or list (of numbers or of str)."""
    from gguf import GGUFValueType
    values = [field.parts[i] for i in field.data]
    if field.types[0] == GGUFValueType.STRING:
        return bytes(values[0]).decode()
    if field.types[0] == GGUFValueType.ARRAY:
        if field.types[-1] == GGUFValueType.STRING:
            return [bytes(v).decode() for v in values]
        return [v.tolist()[0] for v in values]
    return values[0].tolist()[0]


@pytest.mark.slow  # gguf.GGUFReader parses the whole 201088-token vocabulary: some 20 s per file
@pytest.mark.parametrize("quant", ["F16", "Q8_0"])
def test_the_header_reader_agrees_with_gguf_reader(tiny, quant):
    from gguf import GGUFReader
    path, _ = tiny(quant)
    ours, theirs = roofline.GGUFHeader(path), GGUFReader(str(path))
    keys = [k for k in theirs.fields if not k.startswith("GGUF.")]  # GGUF.*: the reader's own header entries
    assert sorted(ours.fields) == sorted(keys)
    for key in keys:
        want = _gguf_reader_value(theirs.fields[key])
        if isinstance(want, list) and want and isinstance(want[0], str):
            assert ours.fields[key] is None and len(want) > 0, key  # string arrays are stepped over
        else:
            assert ours.fields[key] == pytest.approx(want) if isinstance(want, float) else ours.fields[key] == want, key
    assert len(theirs.fields["tokenizer.ggml.tokens"].data) == N_VOCAB
    assert [(t.name, t.shape, t.tensor_type, t.n_elements) for t in ours.tensors] == [
        (t.name, tuple(int(d) for d in t.shape), int(t.tensor_type), int(t.n_elements)) for t in theirs.tensors]
