"""Protocols every backend follows. Backends take raw timestamps only; metrics/ derives numbers."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Protocol, Sequence, runtime_checkable


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

    def decode(self, tokens: Sequence[int]) -> None:
        """Queue one batch appended to the sequence (may return before the compute ends)."""

    def synchronize(self) -> None:
        """Wait until every queued decode has finished."""

    def decode_each(self, tokens: Sequence[int]) -> None:
        """Decode each token as a batch of one, waiting for each (llama-bench's tg loop)."""


@runtime_checkable
class GenerateBackend(Backend, Protocol):
    """Prompt in, tokens streamed out: for chat and agent workloads."""

    def tokenize(self, text: str) -> list[int]:
        """Token ids of `text` as given (special tokens parsed)."""

    def generate(self, prompt: Sequence[int], max_tokens: int, stop: Sequence[int],
                 temperature: float = 0.0, seed: int = 0) -> Iterator[StreamEvent]:
        """Stream the completion of `prompt` (fresh KV memory); ends after a stop token or max_tokens."""
