"""The synthetic gpt-oss GGUF as llama.cpp sees it: loads, tokenizes like openai-harmony, quantizes."""
from __future__ import annotations

import hashlib

import llama_cpp
import numpy as np
import pytest
from openai_harmony import Conversation, DeveloperContent, Message, Role, SystemContent

from harness.backends.inprocess import InProcessBackend, release_model
from harness.metrics.roofline import GGUFHeader
from harness.models import cache, synthetic, vocab

QUANTS = ["F16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_S", "MXFP4_MOE"]
TEXTS = [
    "Hello from GPT-OSS! Numbers 1234567 and symbols <>{}[] ...",
    "Grüße aus München: Straße, Ärger, œuvre, naïve café.",
    "Привет, мир! Как дела?  Ünïcödé   spaces\n\n\ttabs",
    "日本語のテキストと中文文本，还有한국어 문장。",
    "emoji 🙂🚀 and code: def f(x):\n    return x**2  # comment",
]


@pytest.fixture(scope="module")
def llm(tiny_model):
    llm = llama_cpp.Llama(model_path=str(tiny_model), vocab_only=True, verbose=False)
    yield llm
    llm.close()


@pytest.mark.parametrize("text", TEXTS)
def test_llama_cpp_tokenizes_plain_text_like_harmony(llm, text):
    enc = vocab.harmony_encoding()
    assert llm.tokenize(text.encode(), add_bos=False, special=True) == enc.encode(text, allowed_special="all")


def test_llama_cpp_tokenizes_a_rendered_harmony_conversation_like_harmony(llm):
    enc = vocab.harmony_encoding()
    convo = Conversation.from_messages([
        Message.from_role_and_content(Role.SYSTEM, SystemContent.new().with_conversation_start_date("2026-11-24")),
        Message.from_role_and_content(Role.DEVELOPER, DeveloperContent.new().with_instructions("Answer in French.")),
        Message.from_role_and_content(Role.USER, "What is 2+2? Réponds vite."),
    ])
    ids = enc.render_conversation_for_completion(convo, Role.ASSISTANT)
    text = enc.decode(ids)
    assert "<|start|>assistant" in text
    assert llm.tokenize(text.encode(), add_bos=False, special=True) == ids


def test_model_metadata_is_gpt_oss_with_the_chat_template(tiny_model, llm):
    # the harness's header reader (gguf.GGUFReader parses the whole vocabulary: some 20 s; the two
    # readers are compared field by field in tests/metrics/test_roofline.py, a slow test)
    r = GGUFHeader(tiny_model)
    assert r.fields["general.architecture"] == "gpt-oss"
    assert r.fields["tokenizer.chat_template"] == synthetic.chat_template()
    names = {t.name for t in r.tensors}
    assert {"blk.0.attn_sinks.weight", "blk.1.ffn_gate_exps.bias", "blk.0.ffn_down_exps.weight",
            "output.weight"} <= names
    assert len(r.fields["tokenizer.ggml.token_type"]) == vocab.N_VOCAB  # one type per token
    assert llm.n_vocab() == vocab.N_VOCAB  # llama.cpp's count of tokenizer.ggml.tokens


def test_two_builds_are_byte_identical(tmp_path, tiny_cfg, tiny_model):
    from harness.models.cache import _arch
    arch = _arch(tiny_cfg().model)
    a = tiny_model  # the session's build, by the model cache
    b = synthetic.write(arch, tmp_path / "b.gguf", "synthetic-tiny")
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()


def test_changed_preset_gets_a_new_name(tiny_cfg):
    a = cache.synthetic_path(tiny_cfg().model)
    b = cache.synthetic_path(tiny_cfg("model.arch.seed=7").model)
    assert a != b and a.name == b.name


@pytest.mark.parametrize("quant", QUANTS)
def test_every_quant_loads_and_decodes(tiny_cfg, quant):
    cfg = tiny_cfg(f"model.quant={quant}", "backend.n_ctx=256", "workload.n_prompt=32", "workload.n_gen=8")
    path = cache.prepare(cfg.model)
    assert path.name.endswith(f"-{quant}.gguf")
    backend = InProcessBackend(cfg.backend, path)
    backend.start()
    try:
        assert quant.split("_")[0].lower()[:2] in backend.info()["model_type"].lower() or quant == "MXFP4_MOE"
        backend.decode(np.arange(100, 116))
        backend.synchronize()
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(backend.ctx, -1), shape=(backend.n_vocab,))
        assert np.isfinite(logits).all() and logits.std() > 0
    finally:
        backend.stop()
        release_model()
