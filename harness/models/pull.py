"""`harness models pull`: real gpt-oss GGUFs from the Hugging Face Hub into the model cache.

    harness models pull gpt-oss-20b                 # the preset's file, where the preset looks for it
    harness models pull gpt-oss-120b                # all parts of a split GGUF (llama.cpp loads part 1)
    harness models pull REPO/FILE.gguf [--revision REV]   # any GGUF: <cache>/models/hub/REPO/FILE

`harness models prepare --pull` pulls the missing files of the real presets a config names; without
--pull a missing one stops with one line naming the pull command (gigabytes are never fetched
unasked). The transfer, resume and sha256 check are in harness.models.hub.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.models import hub, vocab
from harness.models.hub import PullError


@dataclass(frozen=True)
class HubSource:
    repo: str
    file: str       # the first part of a split GGUF
    size: str       # for the hint, before any request


# Where the real presets' files come from, by (preset, model.quant).
PRESETS: dict[tuple[str, str], HubSource] = {
    ("gpt-oss-20b", "MXFP4_MOE"): HubSource("ggml-org/gpt-oss-20b-GGUF", "gpt-oss-20b-mxfp4.gguf", "about 12 GB"),
    ("gpt-oss-120b", "MXFP4_MOE"): HubSource("ggml-org/gpt-oss-120b-GGUF", "gpt-oss-120b-mxfp4-00001-of-00003.gguf",
                                             "about 63 GB"),
}
SPLIT = re.compile(r"^(?P<stem>.+)-(?P<idx>\d{5})-of-(?P<n>\d{5})\.gguf$")


@dataclass(frozen=True)
class Target:
    repo: str
    files: list[str]    # in the repo, every part, the first part first
    dests: list[Path]   # the local names, same order; dests[0] is what llama.cpp is given


def split_names(path: str) -> list[str]:
    """Every part of a split GGUF (llama.cpp's -00001-of-0000N.gguf names) from any part; [path] if not split."""
    folder, _, name = path.rpartition("/")
    m = SPLIT.match(name)
    if not m:
        return [path]
    n = int(m["n"])
    return [f"{folder + '/' if folder else ''}{m['stem']}-{i:05d}-of-{n:05d}.gguf" for i in range(1, n + 1)]


def hub_dir() -> Path:
    """Where REPO/FILE pulls go: the model cache's hub/ folder."""
    return vocab.cache_root() / "models" / "hub"


def model_path(model: Any) -> Path:
    """A kind=file model's GGUF path as validate.model_file reads it ({quant} replaced, ~ expanded)."""
    return Path(os.path.expanduser(str(model.path).replace("{quant}", model.quant)))


def preset_target(model: Any) -> Target | None:
    """The hub files of a real preset's model, to be put where model.path points; None if none is known."""
    src = PRESETS.get((str(model.name), str(model.quant)))
    if src is None or model.kind != "file" or not model.path:
        return None
    dest = model_path(model)
    files, locals_ = split_names(src.file), split_names(dest.name)
    if len(locals_) != len(files):
        raise PullError(f"{src.repo}/{src.file} comes in {len(files)} parts but model.path={dest} does not name "
                        f"part 1 of {len(files)}: end it with -00001-of-{len(files):05d}.gguf")
    return Target(src.repo, files, [dest.with_name(n) for n in locals_])


def repo_file_target(spec: str) -> Target:
    """REPO/FILE (owner/name/path/in/repo.gguf) into the cache's hub/ folder, keeping the repo's names."""
    owner, _, rest = spec.strip("/").partition("/")
    name, _, file = rest.partition("/")
    if not (owner and name and file):
        known = ", ".join(sorted({p for p, _ in PRESETS}))
        raise PullError(f"{spec!r} is neither a preset ({known}) nor REPO/FILE.gguf, "
                        "e.g. ggml-org/gpt-oss-20b-GGUF/gpt-oss-20b-mxfp4.gguf")
    if not file.endswith(".gguf"):
        raise PullError(f"{spec}: {file} is not a .gguf file; give the GGUF to pull (the first part of a split one)")
    files = split_names(file)
    return Target(f"{owner}/{name}", files, [hub_dir() / owner / name / f for f in files])


def pull(target: Target, revision: str = "main") -> Path:
    """Every file of `target` in place and verified (those already there are kept); returns dests[0]."""
    if all(d.is_file() for d in target.dests):
        _log(f"{target.dests[0]} is already there")
        return target.dests[0]
    remotes = hub.resolve(target.repo, target.files, revision)
    for r, d in zip(remotes, target.dests):
        if d.is_file() and d.stat().st_size != r.size:
            raise PullError(f"{d} is there but is not {r.repo}/{r.path} ({d.stat().st_size} bytes, the hub lists "
                            f"{r.size}); move it away, or set model.path to another place")
    todo = [(r, d) for r, d in zip(remotes, target.dests) if not d.is_file()]
    need = sum(hub.remaining(r, d) for r, d in todo)
    hub.check_space(target.dests[0].parent, need)
    total = sum(r.size for r, _ in todo)
    _log(f"pulling {target.repo}@{remotes[0].commit[:7]}: {len(todo)} file(s), {hub.gb(total)}"
         + (f" ({hub.gb(total - need)} already here)" if need < total else "") + f" -> {target.dests[0].parent}")
    # The first part (the name a preset and llama.cpp open) last: a model is there only once it is whole.
    for remote, dest in reversed(todo):
        hub.download(remote, dest)
    _log(f"verified {len(todo)} file(s) against the hub's sha256")
    return target.dests[0]


def _log(msg: str) -> None:
    print(f"harness: {msg}", file=sys.stderr, flush=True)


def _compose_models(overrides: list[str]) -> list[Any]:
    """The model config of each point, composed as plan() composes them (same search path) but not
    validated, so a missing model file is no error here; [] if the config does not compose (plan()
    says why)."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from harness.config import plan, schema
    schema.register()
    GlobalHydra.instance().clear()
    try:
        return [plan.compose_point(o).model for o in plan.expand(overrides, True)]
    except (HydraException, OmegaConfBaseException, ValueError):
        return []
    finally:
        GlobalHydra.instance().clear()


def preset_target_for(name: str) -> Target:
    """`harness models pull NAME`: the preset composed (HARNESS_CONFIG_DIR, GPT_OSS_*_GGUF apply)."""
    models = _compose_models([f"model={name}"])
    if not models:
        return repo_file_target(name)  # its error names the presets and the REPO/FILE form
    target = preset_target(models[0])
    if target is None:
        m = models[0]
        if m.kind == "synthetic":
            raise PullError(f"{name} is a synthetic model, built here rather than pulled: "
                            f"harness models prepare model={name}")
        raise PullError(f"model {name} (kind={m.kind}, quant={m.quant}) has no file on the hub that the harness "
                        f"knows; pull REPO/FILE.gguf and set model.path")
    return target


def pull_missing(overrides: list[str], allowed: bool) -> bool:
    """`models prepare [--pull]` after plan() refused the config: pull the real presets' missing files
    (allowed), or refuse in one line naming the pull command. False: nothing here to pull (plan's
    error stands)."""
    targets: dict[Path, tuple[Any, Target]] = {}
    for model in _compose_models(overrides):
        try:
            target = preset_target(model)
        except PullError:
            continue
        if target is not None and not target.dests[0].is_file():
            targets.setdefault(target.dests[0], (model, target))
    if not targets:
        return False
    if not allowed:
        model, target = next(iter(targets.values()))
        src = PRESETS[(str(model.name), str(model.quant))]
        env = f" or {model.path_env}" if model.path_env else ""
        raise PullError(f"model file for {model.name} not found: {target.dests[0]}; `harness models pull {model.name}` "
                        f"downloads it ({src.repo}, {src.size}), or add --pull; or set model.path{env} to your GGUF")
    for _, target in targets.values():
        pull(target)
    return True


def main(argv: list[str]) -> int:
    """`harness models pull TARGET [--revision REV]`: prints the GGUF's path (part 1 of a split one)."""
    from harness.errors import fail, parse_args
    ap = argparse.ArgumentParser(prog="harness models pull", description="Download a GGUF from the Hugging Face "
                                 "Hub into the model cache (resumable, sha256-verified).")
    ap.add_argument("target", help="a preset (gpt-oss-20b, gpt-oss-120b) or REPO/FILE.gguf")
    ap.add_argument("--revision", default="main", help="branch, tag or commit of the repo (default main)")
    a = parse_args(ap, argv, "harness")
    if isinstance(a, int):
        return a
    try:
        target = repo_file_target(a.target) if "/" in a.target else preset_target_for(a.target)
        path = pull(target, a.revision)
    except PullError as exc:
        return fail("harness", str(exc))
    except KeyboardInterrupt:
        print("\nharness: pull interrupted; the partial download is kept, the same command resumes it",
              file=sys.stderr)
        return 130
    print(path, flush=True)
    return 0
