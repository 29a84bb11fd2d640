"""Resumable sweeps: `harness bench [-m] ... resume=RUN_DIR` runs only the points RUN_DIR lacks.

A point is identified by its resolved configuration (every key but those below, which name the
run rather than the measurement), written as point.json beside each job's rows. A point counts as
finished when a shard of RUN_DIR holds it with no failed or crashed row (ok and unsupported rows count:
unsupported is a property of the configuration); failed, crashed and unfinished points run again. The
resumed jobs are numbered after RUN_DIR's highest job, so no earlier shard is ever written to,
and the merge keeps, per configuration, the shard with the highest number: every point once.
"""
from __future__ import annotations

import csv
import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any, cast

from omegaconf import DictConfig, OmegaConf

from harness.config.validate import ConfigError, resume_folder
from harness.records.merge import POINT, shards
from harness.records.schema import FAILED
from harness.records.writer import RESULTS

NOT_IDENTITY = ("resume", "results_dir", "run_name", "sweep", "fail_on_error")
RESOLVER = "harness_job"


def identity(cfg: DictConfig) -> dict[str, Any]:
    full = cast("dict[str, Any]", OmegaConf.to_container(cfg, resolve=True))  # a DictConfig: a dict
    return {k: v for k, v in full.items() if k not in NOT_IDENTITY}


def key(cfg: DictConfig) -> str:
    return hashlib.sha256(json.dumps(identity(cfg), sort_keys=True, default=str).encode()).hexdigest()[:16]


def point_record(cfg: DictConfig) -> dict[str, Any]:
    return {"key": key(cfg), "config": identity(cfg)}


def finished(run_dir: Path) -> dict[str, Path]:
    """key -> the newest shard of run_dir holding that point with no failed or crashed row."""
    done: dict[str, Path] = {}
    for shard in shards(run_dir, nested=False):
        with (shard / RESULTS).open(newline="") as f:
            statuses = [r.get("status", "") for r in csv.DictReader(f)]
        rec = shard / POINT
        if statuses and not set(statuses) & set(FAILED) and rec.is_file():
            done[json.loads(rec.read_text())["key"]] = shard
    return done


def next_job(run_dir: Path) -> int:
    nums = [int(p.name) for p in (run_dir / "jobs").glob("*") if p.is_dir() and p.name.isdigit()]
    return max(nums, default=-1) + 1


def register() -> None:
    """`${harness_job:NUM,OFFSET}`: the job folder number of a resumed job (Hydra's number + offset)."""
    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_new_resolver(RESOLVER, lambda num, offset: int(num) + int(offset))


def overrides(run_dir: Path) -> list[str]:
    """What `harness bench` adds to resume into run_dir: its folder, and job numbers after its last."""
    quoted = str(run_dir).replace("\\", "\\\\").replace("'", "\\'")
    return [f"hydra.sweep.dir='{quoted}'",
            f"hydra.sweep.subdir='jobs/${{{RESOLVER}:${{hydra.job.num}},{next_job(run_dir)}}}'"]


def _refuse_used_folder(argv: list[str]) -> None:
    """A new sweep into a folder that holds one would mix two runs' points in its job folders."""
    for arg in argv:
        if arg.startswith("hydra.sweep.dir="):
            folder = arg.split("=", 1)[1].strip("'\"")
            if shards(Path(folder), nested=False):
                raise ConfigError(f"hydra.sweep.dir={folder} already holds a sweep; add resume={folder} to run "
                                  "only the points it lacks, or choose a new folder")


def prepare(argv: list[str], points: list[DictConfig]) -> tuple[list[str], int]:
    """The command line of a multirun and the number of points it will run: with resume, a multirun
    into the folder that skips its finished points; without, refused when the folder holds a sweep."""
    if points[0].get("resume") is None:
        _refuse_used_folder(argv)
        return argv, len(points)
    folders = {str(p.resume) for p in points}
    if len(folders) > 1:
        raise ConfigError(f"resume takes one folder, not a sweep over {len(folders)}")
    if any(a.startswith(("hydra.sweep.dir=", "hydra.sweep.subdir=")) for a in argv):
        raise ConfigError("resume=RUN_DIR writes into RUN_DIR itself; drop hydra.sweep.dir and hydra.sweep.subdir")
    run_dir = resume_folder(folders.pop())
    done = finished(run_dir)
    todo = sum(key(p) not in done for p in points)
    print(f"resume: {len(points) - todo} of {len(points)} points already finished in {run_dir}; running {todo} "
          "(failed, crashed and unfinished points run again)", file=sys.stderr, flush=True)
    multirun = [] if any(a in ("-m", "--multirun") for a in argv) else ["-m"]
    return [*multirun, *argv, *overrides(run_dir)], todo


_FINISHED: dict[Path, dict[str, Path]] = {}


def skip(cfg: DictConfig, run_dir: Path, out: Path) -> Path | None:
    """The shard that already holds this point, if finished; the empty job folder Hydra made for it
    is removed. None: run the point."""
    if run_dir not in _FINISHED:  # once per process, before this process writes a shard
        _FINISHED[run_dir] = finished(run_dir)
    done = _FINISHED[run_dir].get(key(cfg))
    if done is not None and out.parent == run_dir / "jobs" and not (out / RESULTS).exists():
        shutil.rmtree(out, ignore_errors=True)
    return done
