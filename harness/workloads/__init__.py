"""Workloads: each plans its cases and runs them on a backend, recording raw timestamps only."""
from __future__ import annotations

from harness.workloads.base import Case, Workload


def create(cfg, backend) -> Workload:
    """The workload named by cfg.workload.name (validated against schema.WORKLOADS)."""
    if cfg.workload.name == "pp_tg":
        from harness.workloads.pp_tg import PpTgWorkload
        return PpTgWorkload(cfg, backend)
    if cfg.workload.name == "chat":
        from harness.workloads.chat import ChatWorkload
        return ChatWorkload(cfg, backend)
    if cfg.workload.name == "load":
        from harness.workloads.load import LoadWorkload
        return LoadWorkload(cfg, backend)
    if cfg.workload.name == "agent":
        from harness.workloads.agent import AgentWorkload
        return AgentWorkload(cfg, backend)
    raise ValueError(f"workload.name={cfg.workload.name!r} has no implementation")


def plan(cfg) -> list[Case]:
    """The cases of a point without a backend (for rows of a point that fails to start)."""
    return create(cfg, None).cases()
