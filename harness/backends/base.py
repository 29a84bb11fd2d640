"""Protocols every backend follows. Backends take raw timestamps only; metrics/ derives numbers."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    # Token ids to decode: a list, or an int32 array (pp/tg's random prompts, decoded without a copy).
    Tokens: TypeAlias = Sequence[int] | npt.NDArray[np.int32]


class Unsupported(ValueError):
    """What the point asks for, this backend or server cannot do (its rows get status=unsupported)."""


@dataclass(frozen=True)
class StreamEvent:
    """One generated token as it arrived: the raw timestamp (perf_counter_ns) and what came."""
    t_ns: int
    token: int | None = None
    text: str = ""


@runtime_checkable
class Backend(Protocol):
    name: str

    def start(self) -> None:
        """Make the backend ready for requests (load the model, start the server, ...)."""

    def stop(self) -> None:
        """Release what start() took; safe to call twice."""

    def info(self) -> dict[str, Any]:
        """Result columns this backend knows (model_type, model_size, load_s, system info, ...)."""


@runtime_checkable
class DecodeBackend(Backend, Protocol):
    """Token-level access, as llama-bench uses: for pp/tg measured exactly like llama.cpp's own."""
    n_vocab: int

    def clear(self) -> None:
        """Forget the KV memory (between repetitions)."""

    def decode(self, tokens: Tokens) -> None:
        """Queue one batch appended to the sequence (may return before the compute ends)."""

    def synchronize(self) -> None:
        """Wait until every queued decode has finished."""

    def decode_each(self, tokens: Tokens) -> None:
        """Decode each token as a batch of one, waiting for each (llama-bench's tg loop)."""


def decode_batched(backend: DecodeBackend, tokens: Tokens, n_batch: int) -> None:
    """Queue `tokens` appended to the sequence in batches of at most n_batch, as llama-bench's pp and a
    prompt's prefill do; returns without waiting (synchronize() waits). One decode call a batch, no
    Python work per token: pp/tg's timed loop runs this."""
    decode = backend.decode
    for i in range(0, len(tokens), n_batch):
        decode(tokens[i:i + n_batch])


@runtime_checkable
class GenerateBackend(Backend, Protocol):
    """Prompt in, tokens streamed out: for chat and agent workloads."""

    def tokenize(self, text: str) -> list[int]:
        """Token ids of `text` as given (special tokens parsed)."""

    def generate(self, prompt: Sequence[int], max_tokens: int, stop: Sequence[int],
                 temperature: float = 0.0, seed: int = 0) -> Iterator[StreamEvent]:
        """Stream the completion of `prompt` (fresh KV memory); ends after a stop token or max_tokens."""


class TextGenerateBackend(GenerateBackend, Protocol):
    """A backend that also takes the prompt as text when `takes_text` (an OpenAI-compatible endpoint)."""

    @property
    def takes_text(self) -> bool: ...

    def generate(self, prompt: Sequence[int] | str, max_tokens: int, stop: Sequence[int],
                 temperature: float = 0.0, seed: int = 0) -> Iterator[StreamEvent]:
        """As GenerateBackend.generate; a str prompt only where takes_text."""


@runtime_checkable
class ServedBackend(TextGenerateBackend, Protocol):
    """A server's client (backend=http, http_external): what its last request's server reported, read
    once the stream has ended (usage: the OpenAI endpoints' token counts; timings: llama-server's)."""
    last_usage: dict[str, Any]
    last_timings: dict[str, Any]
