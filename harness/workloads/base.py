"""The Workload protocol: plan the cases of a point, run one case on the backend into columns."""
from __future__ import annotations

from typing import Any, Protocol, TypeVar


class Case(Protocol):
    @property
    def name(self) -> str: ...

    def columns(self) -> dict[str, Any]:
        """Columns known before running (test name, n_prompt, ...)."""


CaseT = TypeVar("CaseT", bound=Case)


class Workload(Protocol[CaseT]):
    """Generic in its case type: run takes the cases that cases() planned."""

    def cases(self) -> list[CaseT]: ...

    def run(self, case: CaseT) -> dict[str, Any]:
        """Result columns of one case (status 'ok'); '_samples' holds what samples.jsonl gets."""
