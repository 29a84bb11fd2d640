"""What a verifier is: `check(outcome, task) -> Verdict`, built from its YAML mapping."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from harness.agent.outcome import Outcome


@dataclass(frozen=True)
class Verdict:
    """Whether the episode passed one check, and why (a line a person can act on)."""

    passed: bool
    reason: str


def ok(reason: str = "ok") -> Verdict:
    return Verdict(True, reason)


def fail(reason: str) -> Verdict:
    return Verdict(False, reason)


class Verifier(Protocol):
    """One check of an episode; a task passes when all of its verifiers pass."""

    kind: str  # the `kind:` that selects it in a task file

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], where: str) -> Verifier:
        """Built from its task-file mapping; a bad key or value raises one SpecError line."""

    def check(self, outcome: Outcome, task: Any) -> Verdict:
        """Judge the episode of `task` (a tasks.suite.Task: the suite holds verifiers, so this module
        does not import it); never raises on what the model did."""
