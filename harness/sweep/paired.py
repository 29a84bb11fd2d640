"""The paired gate's rounds, as `asv continuous` runs them: the harness of git ref REF and the current
one bench the same small point in interleaved rounds on this machine (A B, B A, A B, ...); the
judgement on the paired ratio is harness/gate/paired.py.

REF is checked out into a temporary `git worktree` (or is a folder holding a harness checkout). Each
arm is one Python process on the same venv and llama.cpp, started inside its checkout with
`PYTHONPATH=<checkout>`, that composes the point with that checkout's config and runs it each round
in that checkout's in-process worker, the path `harness bench` measures with (as `make
vs-llama-bench` does): the model stays loaded between rounds, so a round costs only its benchmark
and many rounds fit in a minute or two. HARNESS_FAULT reaches the current arm only, so a fault such
as `slow:0.05` makes the current code a known share slower (how the detection rate is measured:
docs/BENCHMARKS.md, "Regression gate").
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import harness
from harness.errors import fail
from harness.gate.checks import failed
from harness.gate.paired import Round, pairs, summary
from harness.sweep.faults import ENV as FAULT_ENV

# The point both arms bench each round: small (pp64 and tg16, 3 repetitions, one thread pinned to
# CPU 1 as `make gate` pins), so a round of both arms takes about a second on a quiet 2-core VM.
BENCH = ("model=synthetic-small", "model.quant=Q8_0", "workload.n_prompt=64", "workload.n_gen=16",
         "workload.repetitions=3", "backend.n_threads=1", "backend.cpu_mask=0x2")
ROUNDS = 20

# What each arm runs, with its own checkout's harness: compose the point, then one run in the kept
# in-process worker per line read, its rows' per-repetition t/s printed as one JSON line.
DRIVER = """
import json, sys
from pathlib import Path
from harness.backends.repack import resolve_repack
from harness.config.plan import plan
from harness.models import cache
from harness.sweep import isolate
from harness.workloads import install_checks
install_checks()
cfg = plan(json.loads(sys.argv[1]), False)[0]
cfg.backend.repack = resolve_repack(cfg.backend.repack)
model = cache.prepare(cfg.model)
print("ready", flush=True)
for _ in sys.stdin:
    rows = [r for kind, r in isolate.ensure().run(cfg, model, 0, Path(sys.argv[2])) if kind == "row"]
    print(json.dumps([{"test": r.get("test"), "status": r.get("status"), "error": r.get("error"),
                       "samples_ts": r.get("_samples", {}).get("samples_ts", [])} for r in rows]), flush=True)
isolate.release()
"""


class PairedError(RuntimeError):
    """REF could not be checked out or its harness failed to bench: nothing to compare (exit 2)."""


class CurrentFailed(RuntimeError):
    """The current harness failed to bench: a regression of its own (exit 1)."""


def current_root() -> Path:
    """The checkout the running harness comes from."""
    return Path(harness.__file__).resolve().parents[1]


@contextlib.contextmanager
def checkout(ref: str, repo: Path) -> Iterator[Path]:
    """A folder holding REF's harness: REF itself when it is such a folder, else a temporary detached
    git worktree of the repository, removed afterwards."""
    if (Path(ref) / "harness" / "__init__.py").is_file():
        yield Path(ref).resolve()
        return
    tmp = Path(tempfile.mkdtemp(prefix="harness-ref-"))
    tree = tmp / "tree"
    add = subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", "--quiet", str(tree), ref],
                         capture_output=True, text=True)
    if add.returncode != 0:
        tmp.rmdir()
        why = (add.stderr.strip().splitlines() or ["git failed"])[-1]
        raise PairedError(f"--against {ref}: git cannot check it out in {repo} ({why}); give a commit, branch or "
                          "tag of this repository, or a folder holding a harness checkout")
    try:
        yield tree
    finally:
        subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)], capture_output=True)
        subprocess.run(["git", "-C", str(repo), "worktree", "prune"], capture_output=True)
        with contextlib.suppress(OSError):
            tmp.rmdir()


class Arm:
    """One arm's driver process: the harness of `root`, its point composed and its model loaded."""

    def __init__(self, name: str, root: Path, overrides: list[str], out: Path, fault: bool) -> None:
        self.name, self.root, self.fault = name, root, fault
        self.log = out / f"{name}.log"
        env = {k: v for k, v in os.environ.items() if k != FAULT_ENV or fault}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH", "")]))
        self.err: IO[str] = self.log.open("w")
        cmd = [sys.executable, "-c", DRIVER, json.dumps(overrides), str(out / f"{name}.llama.log")]
        self.proc = subprocess.Popen(cmd, cwd=root, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err, text=True)

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            self.err.flush()
            tail = [ln for ln in self.log.read_text().splitlines() if ln.strip()][-1:] or ["no output"]
            raise (CurrentFailed if self.fault else PairedError)(
                f"the harness in {self.root} failed to bench ({self.log}): {tail[0]}")
        return line

    def ready(self) -> None:
        while self._line().strip() != "ready":
            pass

    def bench(self) -> Round:
        """One run of the point: test -> per-repetition t/s (a failed case ends the gate)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        rows: list[dict[str, Any]] = json.loads(self._line())
        bad = [r for r in rows if r["status"] != "ok"]
        if bad:
            raise (CurrentFailed if self.fault else PairedError)(
                f"the harness in {self.root} failed {bad[0]['test']}: {bad[0]['error']}")
        return {f"test={r['test']}": [float(x) for x in r["samples_ts"]] for r in rows}

    def close(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.err.close()


def run_rounds(ref_root: Path, cur_root: Path, out: Path, rounds: int, overrides: list[str],
               log: bool = True) -> tuple[list[Round], list[Round]]:
    """`rounds` rounds, the order turning each round (REF first in even rounds): each arm's results.
    Every round is appended to out/rounds.jsonl."""
    out.mkdir(parents=True, exist_ok=True)
    arms = [Arm("ref", ref_root, overrides, out, False), Arm("current", cur_root, overrides, out, True)]
    got: dict[str, list[Round]] = {"ref": [], "current": []}
    try:
        for arm in arms:
            arm.ready()
        with (out / "rounds.jsonl").open("w") as record:
            for i in range(rounds):
                for arm in arms if i % 2 == 0 else arms[::-1]:
                    got[arm.name].append(arm.bench())
                    record.write(json.dumps({"round": i, "arm": arm.name, "samples_ts": got[arm.name][-1]}) + "\n")
                if log:
                    print(f"gate --against: round {i + 1}/{rounds} done", file=sys.stderr, flush=True)
    finally:
        for arm in arms:
            arm.close()
    return got["ref"], got["current"]


def bench_overrides(overrides: list[str]) -> list[str]:
    """BENCH with the user's overrides on top (one of theirs replaces BENCH's of the same key)."""
    theirs = {o.split("=", 1)[0].lstrip("+~") for o in overrides}
    return [o for o in BENCH if o.split("=", 1)[0] not in theirs] + overrides


def gate_against(ref: str, rounds: int, threshold: float, overrides: list[str], out: Path | None) -> int:
    """`harness gate --against REF`: the rounds, then the paired verdicts; exit status 0, 1 or 2."""
    root = current_root()
    folder = (out or Path(tempfile.mkdtemp(prefix="harness-paired-"))).resolve()
    try:
        with checkout(ref, root) as ref_root:
            ref_rounds, cur_rounds = run_rounds(ref_root, root, folder, rounds, bench_overrides(overrides))
    except PairedError as exc:
        return fail("harness gate", str(exc))
    except CurrentFailed as exc:
        return fail("harness gate", f"FAIL: {exc}", 1)
    finally:
        if out is None:  # no --out: the rounds and logs go with the temporary folder
            shutil.rmtree(folder, ignore_errors=True)
    result = pairs(ref_rounds, cur_rounds, threshold)
    bad = failed([p.check for p in result])
    print(summary(result, ref, threshold, bad))
    if out is not None:
        print(f"rounds: {folder / 'rounds.jsonl'}", file=sys.stderr)
    return 1 if bad else 0
