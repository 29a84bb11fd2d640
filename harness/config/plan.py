"""Compose the config for every sweep point before any work, so a bad value stops the run early.

The points are those Hydra's basic sweeper will launch: `hydra.sweeper.params` of the composed
config (named sweeps under configs/sweep/ set them) followed by the command line's overrides.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from harness.config import schema
from harness.config.validate import ConfigError, validate

# configs/hydra/launcher/submitit_slurm.yaml fills the submitit plugin's schema of the same name on
# purpose (Hydra then checks its keys); Hydra 1.3 still does so, with a deprecation warning.
warnings.filterwarnings("ignore", message=r"(?s).*is validated against ConfigStore schema with the same name")


def config_dir() -> Path:
    env = os.environ.get("HARNESS_CONFIG_DIR")
    return Path(env).resolve() if env else Path(__file__).resolve().parents[2] / "configs"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    # Hydra wraps the useful cause ("Key 'x' not in 'BackendConfig'") after a generic first line.
    detail = next((ln for ln in lines[1:] if not ln.startswith(("full_key", "object_type", "reference_type"))), "")
    head = lines[0] if lines else type(exc).__name__
    return f"{head} {detail}".strip() if detail and detail not in head else head


def expand(overrides: list[str], multirun: bool) -> list[list[str]]:
    """The override list of each point (one point for a single run)."""
    if not multirun:
        return [list(overrides)]
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        root = compose("bench", overrides=[o for o in overrides if "," not in o.split("=", 1)[-1]
                                           and not o.startswith("hydra.")], return_hydra_config=True)
        params = [f"{k}={v}" for k, v in (root.hydra.sweeper.params or {}).items()]
    parsed = OverridesParser.create().parse_overrides(params + list(overrides))
    return BasicSweeper.split_arguments(parsed, None)[0]


def compose_point(overrides: list[str]) -> DictConfig:
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("bench", overrides=[o for o in overrides if not o.startswith("hydra.")])


def plan(overrides: list[str], multirun: bool) -> list[DictConfig]:
    """Every point's composed, validated config; ConfigError (one line) on the first bad one."""
    schema.register()
    GlobalHydra.instance().clear()
    try:
        points = [compose_point(o) for o in expand(overrides, multirun)]
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        raise ConfigError(_first_line(exc)) from None
    finally:
        GlobalHydra.instance().clear()
    for cfg in points:
        validate(cfg)
    return points


def resolved(cfg: DictConfig) -> dict:
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
