"""Protocols every backend follows. Backends take raw timestamps only; metrics/ derives numbers."""
from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable


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
