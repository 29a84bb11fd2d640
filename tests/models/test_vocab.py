"""Tests for harness.models.vocab on the real quicktok / openai-harmony / llama.cpp data."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import gguf
import pytest

from harness.models import vocab

ROOT = Path(__file__).resolve().parents[2]
N_MERGES = 199998 - 256  # every multi-byte rank yields exactly one merge


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private HARNESS_CACHE for the whole session, so merges are computed once."""
    root = tmp_path_factory.mktemp("harness-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARNESS_CACHE", str(root))
        mp.delenv("TIKTOKEN_ENCODINGS_BASE", raising=False)
        yield root


@pytest.fixture(scope="session")
def gv(session_cache: Path) -> vocab.GgufVocab:
    """The GGUF vocabulary, built (and cached on disk) once per session."""
    start = time.perf_counter()
    result = vocab.gguf_vocab()
    print(f"\ngguf_vocab() first call: {time.perf_counter() - start:.2f}s")
    return result


@pytest.fixture(scope="session")
def encoding(session_cache: Path):  # an openai_harmony type
    return vocab.harmony_encoding()


def gpt2_bytes_to_unicode() -> dict[int, str]:
    """GPT-2's bytes_to_unicode, written out independently of the module under test."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def merge_bpe(piece: bytes, merge_rank: dict[tuple[str, str], int], b2u: dict[int, str]) -> list[str]:
    """HF/llama.cpp-style BPE: repeatedly apply the lowest-ranked merge in the list."""
    parts = [b2u[b] for b in piece]
    while len(parts) > 1:
        ranked = [(merge_rank.get((a, b), 1 << 62), i) for i, (a, b) in enumerate(itertools.pairwise(parts))]
        best, i = min(ranked)
        if best == 1 << 62:
            break
        parts[i : i + 2] = [parts[i] + parts[i + 1]]
    return parts


def test_cache_root_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "h"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert vocab.cache_root() == tmp_path / "h"
    monkeypatch.delenv("HARNESS_CACHE")
    assert vocab.cache_root() == tmp_path / "x" / "harness"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert vocab.cache_root() == Path.home() / ".cache" / "harness"


def test_shipped_vocab_hash_verifies() -> None:
    ranks = vocab.o200k_ranks()
    assert len(ranks) == 199998
    assert ranks[0] == b"!"
    assert sorted(r for r in ranks if len(r) == 1) == [bytes([b]) for b in range(256)]


def test_corrupted_vocab_raises(tmp_path: Path) -> None:
    data = bytearray(vocab._quicktok_file("o200k.vocab").read_bytes())
    data[len(data) // 2] ^= 0x01  # may hit a token byte, a length or a rank: all must fail
    bad = tmp_path / "o200k.vocab"
    bad.write_bytes(bytes(data))
    with pytest.raises(vocab.VocabError) as info:
        vocab.o200k_ranks(bad)
    message = str(info.value)
    assert str(bad) in message and "\n" not in message

    data = bytearray(vocab._quicktok_file("o200k.vocab").read_bytes())
    data[6] ^= 0x01  # first token's byte: parses fine, hash differs
    bad.write_bytes(bytes(data))
    with pytest.raises(vocab.VocabError, match=vocab.VOCAB_SHA256) as info:
        vocab.o200k_ranks(bad)
    assert str(bad) in str(info.value)


def test_truncated_and_missing_vocab_raise(tmp_path: Path) -> None:
    short = tmp_path / "short.vocab"
    short.write_bytes(vocab._quicktok_file("o200k.vocab").read_bytes()[:1000])
    with pytest.raises(vocab.VocabError, match="truncated"):
        vocab.o200k_ranks(short)
    with pytest.raises(vocab.VocabError, match="cannot read"):
        vocab.o200k_ranks(tmp_path / "missing.vocab")


def test_harmony_specials() -> None:
    specials = vocab.harmony_specials()
    assert len(specials) == 1090
    assert sorted(specials) == list(range(199998, 201088))
    known = {
        199998: "<|startoftext|>", 199999: "<|endoftext|>", 200002: "<|return|>",
        200005: "<|channel|>", 200006: "<|start|>", 200007: "<|end|>", 200008: "<|message|>",
        200012: "<|call|>", 200018: "<|endofprompt|>",
    }
    assert {i: specials[i] for i in known} == known


def test_gguf_vocab_shape(gv: vocab.GgufVocab) -> None:
    assert len(gv.tokens) == vocab.N_VOCAB == 201088
    assert len(set(gv.tokens)) == len(gv.tokens)
    assert gv.token_types == [gguf.TokenType.NORMAL] * 199998 + [gguf.TokenType.CONTROL] * 1090
    assert len(gv.merges) == N_MERGES
    assert all(m.count(" ") == 1 for m in gv.merges)
    assert gv.merges[:3] == ["Ġ Ġ", "ĠĠ ĠĠ", "i n"]
    assert gv.tokens[200006] == "<|start|>"
    b2u = gpt2_bytes_to_unicode()
    ranks = vocab.o200k_ranks()
    assert all(gv.tokens[r] == "".join(b2u[b] for b in tok) for r, tok in enumerate(ranks))


def test_merges_cached_on_disk(gv: vocab.GgufVocab, session_cache: Path) -> None:
    path = session_cache / "vocab" / f"o200k_merges-{vocab.VOCAB_SHA256}.txt"
    assert path.is_file()
    start = time.perf_counter()
    again = vocab.gguf_vocab()
    elapsed = time.perf_counter() - start
    print(f"\ngguf_vocab() cached call: {elapsed:.2f}s")
    assert again == gv
    assert elapsed < 5


SAMPLES = [
    ["Hello", " world", "!"],
    ["Tokenization", " is", " fun"],
    [" antidisestablishmentarianism", " supercalifragilisticexpialidocious"],
    [" naïve", " café"],
    [" привет", " мир"],
    ["日本語のテキスト"],
    ["🙂🚀"],
    ["<|start|>", "user", "<|message|>", "What", " is", " the", " capital", "?", "<|end|>"],
    ["<|start|>", "assistant", "<|channel|>", "final", "<|message|>", "Paris", ".", "<|return|>"],
]


@pytest.mark.parametrize("chunks", SAMPLES, ids=lambda c: "".join(c)[:24])
def test_merges_bpe_matches_harmony(gv: vocab.GgufVocab, encoding, chunks: list[str]) -> None:
    merge_rank = {tuple(m.split(" ")): i for i, m in enumerate(gv.merges)}
    token_id = {t: i for i, t in enumerate(gv.tokens)}
    b2u = gpt2_bytes_to_unicode()
    ids: list[int] = []
    for chunk in chunks:
        if chunk.startswith("<|"):
            ids.append(token_id[chunk])
        else:
            ids.extend(token_id[p] for p in merge_bpe(chunk.encode(), merge_rank, b2u))
    assert ids == encoding.encode("".join(chunks), allowed_special="all")


def test_merges_bpe_matches_harmony_on_vocab_words(gv: vocab.GgufVocab, encoding) -> None:
    merge_rank = {tuple(m.split(" ")): i for i, m in enumerate(gv.merges)}
    token_id = {t: i for i, t in enumerate(gv.tokens)}
    b2u = gpt2_bytes_to_unicode()
    words = [t.decode() for t in vocab.o200k_ranks()[::97] if re.fullmatch(rb" ?[a-z]{2,}", t)]
    assert len(words) > 500
    for word in words:
        got = [token_id[p] for p in merge_bpe(word.encode(), merge_rank, b2u)]
        assert got == encoding.encode(word), word


def test_ensure_harmony_env_rule(session_cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TIKTOKEN_ENCODINGS_BASE", str(tmp_path))  # folder without the file
    vocab.ensure_harmony_env()
    assert os.environ["TIKTOKEN_ENCODINGS_BASE"] == str(session_cache / "tiktoken")
    (tmp_path / "o200k_base.tiktoken").write_bytes(b"user-provided")
    monkeypatch.setenv("TIKTOKEN_ENCODINGS_BASE", str(tmp_path))  # folder holding it: kept
    vocab.ensure_harmony_env()
    assert os.environ["TIKTOKEN_ENCODINGS_BASE"] == str(tmp_path)


def test_harmony_encoding_in_clean_subprocess(tmp_path: Path) -> None:
    script = (
        "import json, os\n"
        "from harness.models import vocab\n"
        "enc = vocab.harmony_encoding()\n"
        "print(json.dumps({'base': os.environ['TIKTOKEN_ENCODINGS_BASE'],\n"
        "  'ids': enc.encode('<|start|>user<|message|>Hello world<|end|>', allowed_special='all')}))\n"
    )
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path / "home"),
           "HARNESS_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["base"] == str(tmp_path / "cache" / "tiktoken")
    assert out["ids"] == [200006, 1428, 200008, 13225, 2375, 200007]
    written = (tmp_path / "cache" / "tiktoken" / "o200k_base.tiktoken").read_bytes()
    assert vocab.hashlib.sha256(written).hexdigest() == vocab.VOCAB_SHA256


def test_add_to_gguf_loads_in_llama_cpp(gv: vocab.GgufVocab, encoding, tmp_path: Path) -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    path = tmp_path / "vocab-only.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(128)
    writer.add_embedding_length(64)
    writer.add_block_count(1)
    writer.add_feed_forward_length(128)
    writer.add_head_count(4)
    writer.add_head_count_kv(4)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(vocab.N_VOCAB)
    vocab.add_to_gguf(writer, chat_template="{{ messages }}")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    model = llama_cpp.Llama(str(path), vocab_only=True, verbose=False)
    assert (model.n_vocab(), model.token_bos(), model.token_eos()) == (201088, 199998, 200002)
    assert model.metadata["tokenizer.chat_template"] == "{{ messages }}"
    assert model.metadata["tokenizer.ggml.padding_token_id"] == "199999"
    text = "<|start|>user<|message|>Tokenization of naïve café 日本語 🙂 text, 12345!<|end|>"
    ids = model.tokenize(text.encode(), add_bos=False, special=True)
    assert ids == encoding.encode(text, allowed_special="all")
    assert model.detokenize(ids, special=True).decode() == text
