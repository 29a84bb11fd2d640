"""The Hydra application behind `harness bench`: one call of `task` per sweep point."""
from __future__ import annotations

import importlib.util
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from harness.config import schema
from harness.config.plan import config_dir, register_search_path
from harness.errors import fail
from harness.models import vocab
from harness.records import merge
from harness.sweep import isolate, progress, resume
from harness.sweep.job import run_point


def install() -> None:
    """What a process that runs `task` needs first: the resume resolver, with which Hydra names a
    resumed job's folder. launch() calls it; a job process of another launcher gets it from _Task."""
    resume.register()


def task(cfg: DictConfig) -> int:
    hc = HydraConfig.get()
    out = Path(hc.runtime.output_dir)
    multirun = hc.mode == RunMode.MULTIRUN
    run_dir = out.parent.parent if multirun else out
    # the job folder's number: Hydra's job number, shifted past the existing jobs when resuming
    point = (int(out.name) if out.name.isdigit() else int(hc.job.num)) if multirun else 0
    label = " ".join(o for o in hc.overrides.task if not o.startswith("resume=")) or "defaults"
    progress.STATE["run_dir"] = str(run_dir) if multirun else ""
    if cfg.get("resume") and multirun:
        done = resume.skip(cfg, run_dir, out)
        if done is not None:
            progress.skipped(label, done)
            return 0
    return run_point(cfg, out, run_dir.name, point, label)


class _Task:
    """`task` as Hydra gets it. Other launchers (joblib, submitit) pickle it into their job processes,
    where Hydra names the job's folder before calling it: unpickling it there runs install() first."""

    def __call__(self, cfg: DictConfig) -> int:
        return task(cfg)

    def __reduce__(self) -> tuple[Callable[[], _Task], tuple[()]]:
        return _installed_task, ()


def _installed_task() -> _Task:
    install()
    return _Task()


def _missing_launcher(argv: list[str]) -> str | None:
    """A one-line reason when argv picks a launcher plugin that is not installed."""
    plugins = {"submitit": ("hydra_plugins.hydra_submitit_launcher", "pip install 'gpt-oss-harness[cluster]'"),
               "joblib": ("hydra_plugins.hydra_joblib_launcher", "pip install hydra-joblib-launcher")}
    for arg in argv:
        name = arg.partition("hydra/launcher=")[2]
        for prefix, (module, fix) in plugins.items():
            if name.startswith(prefix) and importlib.util.find_spec(module) is None:
                return f"hydra/launcher={name} needs its Hydra plugin, which is not installed: {fix}"
    return None


def resume_command(argv: list[str], run_dir: str) -> str:
    """The command that resumes run_dir: the user's arguments less those resume= sets, plus resume=."""
    kept = [a for a in argv if not a.startswith(("resume=", "hydra.sweep.dir=", "hydra.sweep.subdir="))]
    return " ".join(["harness bench", *(shlex.quote(a) for a in kept), shlex.quote(f"resume={run_dir}")])


def _interrupted(argv: list[str]) -> int:
    """After Ctrl-C: the finished points merged, one line saying how to go on; exit status 130."""
    run_dir = progress.STATE.get("run_dir") or ""
    done, total = progress.STATE["done"], progress.STATE["total"]
    if run_dir:
        merge.merge(Path(run_dir))
        how = f"; resume with: {resume_command(argv, run_dir)}"
    else:
        how = "; nothing was kept (a single run keeps its rows only when it finishes)" if not done else ""
    print(f"\nharness: interrupted after {done} of {total} point(s) finished{how}", file=sys.stderr)
    return 130


def launch(argv: list[str], user_argv: list[str] | None = None) -> int:
    """Run Hydra on argv (its own grammar); exit status 1 if any point failed or crashed, 130 on Ctrl-C.
    user_argv: the command line as the user gave it (for the resume command after Ctrl-C)."""
    missing = _missing_launcher(argv)
    if missing:
        return fail("harness", missing)
    schema.register()
    vocab.ensure_harmony_env()
    register_search_path()  # the user's config folders (--config-dir, HARNESS_CONFIG_DIR) before harness/conf/
    main = hydra.main(config_path=str(config_dir()), config_name="bench", version_base="1.3")(_installed_task())
    saved = sys.argv
    sys.argv = ["harness bench", *argv]
    try:
        main()
    except KeyboardInterrupt:  # the finally below stops the worker and the server
        return _interrupted(user_argv if user_argv is not None else argv)
    finally:
        sys.argv = saved
        from harness.backends.server import release_server
        isolate.release()
        release_server()
    failed = progress.STATE["failed"]
    if failed:
        print(f"harness: {failed} point(s) failed or crashed; see the status and error columns", file=sys.stderr)
    return 1 if failed else 0
