"""The Workload protocol: plan the cases of a point, run one case on the backend into columns."""
from __future__ import annotations

from typing import Any, Protocol


class Case(Protocol):
    @property
    def name(self) -> str: ...

    def columns(self) -> dict[str, Any]:
        """Columns known before running (test name, n_prompt, ...)."""


class Workload(Protocol):
    def cases(self) -> list[Case]: ...

    def run(self, case: Case) -> dict[str, Any]:
        """Result columns of one case (status 'ok'); '_samples' holds what samples.jsonl gets."""
