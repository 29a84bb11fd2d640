"""Workloads: each plans its cases and runs them on a backend, recording raw timestamps only."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig

from harness.workloads.base import Case, Workload

if TYPE_CHECKING:
    from harness.backends.replay import ReplayScripts
    from harness.config.schema import BenchConfig


def create(cfg: BenchConfig, backend: Any) -> Workload[Any]:
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
    if cfg.workload.name == "kld":
        from harness.workloads.kld import KldWorkload
        return KldWorkload(cfg, backend)
    raise ValueError(f"workload.name={cfg.workload.name!r} has no implementation")


def plan(cfg: BenchConfig) -> list[Case]:
    """The cases of a point without a backend (for rows of a point that fails to start)."""
    return create(cfg, None).cases()


def replay_scripts(cfg: BenchConfig) -> ReplayScripts:
    """What backend=replay/replay_http play: the agent suite's recorded completions (workload=agent)."""
    from harness.workloads.agent import replay_scripts as agent_scripts
    return agent_scripts(cfg.workload)


def _model_file(cfg: DictConfig) -> None:
    from harness.models.cache import model_file
    model_file(cfg.model)


def _agent_suite(cfg: DictConfig) -> None:
    from harness.workloads.agent import check_suite
    check_suite(cfg)


def install_checks() -> None:
    """Give config validation the checks the config alone cannot make: a kind=file model's GGUF
    exists, the agent suite loads and knows every task asked for. Whatever plans or validates
    points calls this first (cli, a sweep job, the runners, tests); calling it again is harmless."""
    from harness.config import validate
    validate.add_check("model.file", _model_file)
    validate.add_check("workload.agent", _agent_suite)
