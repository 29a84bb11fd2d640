"""Compose the config for every sweep point before any work, so a bad value stops the run early.

The points are those Hydra's basic sweeper will launch: `hydra.sweeper.params` of the composed
config (named sweeps under sweep/ set them) followed by the command line's overrides.

The config tree ships inside the package (harness/conf/). The user's own folders of presets and
sweeps are searched before it: `harness bench --config-dir DIR` (or -cd; several allowed), then the
folders of HARNESS_CONFIG_DIR (several joined by os.pathsep), then harness/conf/. A name in a user
folder (model/my-model.yaml, sweep/mine.yaml, even model/synthetic-tiny.yaml) wins over a shipped
one. A Hydra SearchPathPlugin (UserConfigDirs, registered by use_config_dirs) puts them there, so
both compose paths see the same order: plan here (initialize_config_dir) and the Hydra app of
`harness bench` (hydra.main); the jobs of every launcher reuse the app's search path.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, cast

from hydra import compose, initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_search_path import ConfigSearchPath, SearchPathQuery
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.errors import HydraException
from hydra.plugins.search_path_plugin import SearchPathPlugin
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from harness.config import schema
from harness.config.validate import ConfigError, validate

# conf/hydra/launcher/submitit_slurm.yaml fills the submitit plugin's schema of the same name on
# purpose (Hydra then checks its keys); Hydra 1.3 still does so, with a deprecation warning.
warnings.filterwarnings("ignore", message=r"(?s).*is validated against ConfigStore schema with the same name")


ENV = "HARNESS_CONFIG_DIR"
_cli_dirs: list[str] = []   # this command's --config-dir folders (use_config_dirs)


def config_dir() -> Path:
    """The shipped config tree: harness/conf/ inside the installed package."""
    return Path(__file__).resolve().parents[1] / "conf"


def user_config_dirs(cli_dirs: list[str] | tuple[str, ...] | None = None, strict: bool = True) -> list[Path]:
    """The user's folders, searched before the shipped tree: --config-dir's (cli_dirs, default: this
    command's), then HARNESS_CONFIG_DIR's. strict: ConfigError (one line) for one that is not a
    folder; else it is left out."""
    named = [(d, f"--config-dir {d}") for d in (_cli_dirs if cli_dirs is None else cli_dirs)]
    named += [(d, f"{ENV}={os.environ[ENV]}") for d in os.environ.get(ENV, "").split(os.pathsep) if d.strip()]
    out: list[Path] = []
    for d, source in named:
        path = Path(d).expanduser().resolve()
        if not path.is_dir():
            if strict:
                raise ConfigError(f"{source}: no such folder {path}; give a folder of your own presets "
                                  "(model/, sweep/, workload/, backend/ as in harness/conf/)")
            continue
        if path not in out and path != config_dir():
            out.append(path)
    return out


class UserConfigDirs(SearchPathPlugin):
    """The user's folders ahead of the primary config folder (harness/conf/) in Hydra's search path."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        for path in user_config_dirs(strict=False):  # each goes just before "main": after the ones before it
            search_path.prepend(provider="harness-user", path=f"file://{path}",
                                anchor=SearchPathQuery(provider="main"))


def register_search_path() -> None:
    """Hydra compositions of this process search the user's folders first (idempotent)."""
    Plugins.instance().register(UserConfigDirs)


def use_config_dirs(cli_dirs: list[str] | tuple[str, ...] = ()) -> list[Path]:
    """Search cli_dirs (--config-dir), then HARNESS_CONFIG_DIR's folders, before the shipped tree in every
    later composition of this process; the user folders, or ConfigError (one line) for a missing one."""
    dirs = user_config_dirs(cli_dirs, strict=True)
    _cli_dirs[:] = list(cli_dirs)
    register_search_path()
    return dirs


def take_config_dirs(argv: list[str]) -> tuple[list[str], list[str]]:
    """argv less its --config-dir/-cd options (Hydra's spelling), and their folders in order."""
    rest: list[str] = []
    dirs: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg in ("--config-dir", "-cd"):
            value = next(it, None)
            if value is None:
                raise ConfigError(f"{arg} needs a folder: {arg} DIR")
            dirs.append(value)
        elif arg.startswith(("--config-dir=", "-cd=")):
            dirs.append(arg.split("=", 1)[1])
        else:
            rest.append(arg)
    return rest, dirs


def _missing_preset(lines: list[str]) -> str | None:
    """Hydra's "Could not find 'model/x'" with its options (one a line) as one line, saying where to add one."""
    if len(lines) < 2 or "Could not find" not in lines[0] or not lines[1].startswith("Available options"):
        return None
    options = []
    for ln in lines[2:]:
        if ln.startswith("Config search path"):
            break
        if not ln.endswith("_schema"):
            options.append(ln)
    where = ", ".join(str(d) for d in [*user_config_dirs(strict=False), config_dir()])
    return (f"{lines[0]}; {lines[1].rstrip(':').lower()}: {', '.join(options) or 'none'} (searched {where}; "
            f"add your own folder with --config-dir DIR or {ENV})")


def _unreadable(overrides: list[str], exc: BaseException) -> str | None:
    """The override Hydra's grammar cannot read, named with the way to write it (a value holding `=`,
    a space or brackets goes in quotes)."""
    from hydra.errors import OverrideParseException
    if not isinstance(exc, OverrideParseException):
        return None
    parser = OverridesParser.create()
    for o in overrides:
        try:
            parser.parse_override(o)
        except HydraException as bad:  # parse_override raises the grammar's error as a plain HydraException
            key, _, value = o.partition("=")
            return (f"cannot read the override {o!r} ({_first_line(bad)}); a value holding '=', spaces or "
                    f"brackets goes in quotes: '{key}=\"{value}\"'")
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    missing = _missing_preset(lines)
    if missing:
        return missing
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


def plan(overrides: list[str], multirun: bool, config_dirs: list[str] | tuple[str, ...] = ()) -> list[DictConfig]:
    """Every point's composed, validated config; ConfigError (one line) on the first bad one.
    config_dirs: --config-dir folders, searched first (then HARNESS_CONFIG_DIR's, then harness/conf/)."""
    schema.register()
    use_config_dirs(config_dirs)
    GlobalHydra.instance().clear()
    try:
        points = [compose_point(o) for o in expand(overrides, multirun)]
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        raise ConfigError(_unreadable(overrides, exc) or _first_line(exc)) from None
    finally:
        GlobalHydra.instance().clear()
    for cfg in points:
        validate(cfg)
    return points


def resolved(cfg: DictConfig) -> dict[str, Any]:
    return cast("dict[str, Any]", OmegaConf.to_container(cfg, resolve=True))  # a DictConfig: a dict
