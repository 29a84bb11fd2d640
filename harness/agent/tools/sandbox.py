"""Run a program in a contained child process: the python tool's sandbox.

Every run gets a fresh temporary working directory (HOME too; removed afterwards), an environment
of a few allowlisted variables (no API keys, no tokens), a wall-clock timeout after which its
whole process group is killed, and per-process limits (CPU seconds, address space, file size,
open files, processes). On Linux it also gets, where the OS allows, a network namespace of its
own (no interfaces up: no network, not even loopback) and a PID namespace (when the program ends,
everything it started dies with it); started as root, the program runs as `nobody`. There it
also gets a filesystem view of its own (sandbox_fs.py, in a private mount namespace): the
system's libraries and the Python installation read-only, /dev basics, its own /proc, and a
size-limited private /tmp holding its working folder; no home folder, no workspace, nothing of
other users. Without that view the python tool refuses to start unless told `unsafe`.

What holds on this machine is measured once per set of limits by `probe`: it starts the sandbox
in the strongest set-up first and falls back while a set-up fails, then runs code inside that
tries to reach a loopback server, map more memory than allowed, fork more than allowed and read
a world-readable file outside its view.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import psutil

from harness.agent.tools import sandbox_cgroup
from harness.agent.tools.sandbox_entry import CLONE_NEWPID, SETUP_FAILED
from harness.agent.tools.sandbox_fs import SEATBELT, seatbelt_argv
from harness.agent.tools.sandbox_io import Captured, Pipes

CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWNS = 0x10000000, 0x40000000, 0x00020000
NOBODY = (65534, 65534)
ENTRY = Path(__file__).with_name("sandbox_entry.py")
ENV_ALLOWED = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")
ENV_FIXED = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
             "MPLBACKEND": "Agg"}  # one BLAS thread keeps the process and memory limits meaningful
DRAIN_S = 0.5  # how long output is still read after the program ended (a leftover may hold a pipe)


class SandboxError(RuntimeError):
    """The sandbox could not be set up (not the program's failure)."""


@dataclass(frozen=True)
class Limits:
    """What one run may use. Memory, CPU and file size are per process."""

    timeout_s: float = 30.0
    memory_mb: int = 1024
    max_procs: int = 32  # processes and threads the program may start
    file_mb: int = 64
    open_files: int = 256
    disk_mb: int = 256  # the private /tmp (working folder included) of a filesystem view, in all
    total_memory_mb: int | None = None  # all processes together (a memory cgroup); None: memory_mb + disk_mb
    output_bytes: int = 20_000  # of stdout and of stderr each; past it the middle is cut
    cpu_s: int | None = None  # None: the timeout rounded up, plus 1 s, so the wall clock ends a busy loop
    # first (a loop's CPU time never passes its wall time); the CPU limit stops multi-threaded burners

    @property
    def total_mb(self) -> int:
        return self.total_memory_mb or self.memory_mb + self.disk_mb

    @property
    def cpu_seconds(self) -> int:
        return self.cpu_s if self.cpu_s is not None else int(-(-self.timeout_s // 1)) + 1

    def rlimits(self, nproc: int | None) -> dict[str, list[int]]:
        mib = 1 << 20
        limits = {"RLIMIT_CPU": [self.cpu_seconds, self.cpu_seconds + 1],
                  "RLIMIT_AS": [self.memory_mb * mib] * 2, "RLIMIT_FSIZE": [self.file_mb * mib] * 2,
                  "RLIMIT_NOFILE": [self.open_files] * 2}
        if nproc is not None:
            limits["RLIMIT_NPROC"] = [nproc, nproc]
        return limits


@dataclass(frozen=True)
class Setup:
    """One way to start the sandbox: namespaces to unshare, a user to become (as root), and
    whether that user keeps reading everything (when it could not reach the interpreter otherwise)."""

    unshare: int = 0
    drop_to: tuple[int, int] | None = None
    read_all: bool = False
    seatbelt: bool = False  # macOS: run under sandbox-exec (sandbox_fs.seatbelt_argv)
    cgroup: bool = False  # in a memory cgroup of its own (sandbox_cgroup): a total memory limit

    @property
    def own_view(self) -> bool:
        return bool(self.unshare & CLONE_NEWNS) or self.seatbelt


@dataclass(frozen=True)
class Containment:
    """What the probe measured: the set-up in use and which limits hold on this machine."""

    setup: Setup
    network_cut: bool
    memory_limited: bool
    procs_limited: bool
    cpu_limited: bool
    files_hidden: bool = False  # the program cannot read a world-readable file outside its view
    failed: str = ""  # why stronger set-ups failed to start, when the probe fell back
    total_memory_limited: bool = False  # its processes are in a memory cgroup of their own

    @property
    def reaps_leftovers(self) -> bool:
        """Processes the program leaves behind (even in a new session) die when it ends."""
        return bool(self.setup.unshare & CLONE_NEWPID)

    @property
    def level(self) -> str:
        """What holds, e.g. `fs+net+pid+mem+procs`, or `none`: recorded with transcripts and rows."""
        held = [("fs", self.files_hidden), ("net", self.network_cut), ("pid", self.reaps_leftovers),
                ("mem", self.memory_limited), ("memtotal", self.total_memory_limited),
                ("procs", self.procs_limited)]
        return "+".join(name for name, ok in held if ok) or "none"


@dataclass(frozen=True)
class Outcome:
    stdout: Captured
    stderr: Captured
    exit_code: int | None  # None when ended by a signal
    signal: int | None
    timed_out: bool
    cpu_s: float  # user + system time of the program and the children it waited for
    wall_s: float
    oom_killed: bool = False  # the total memory limit (cgroup) ended one of its processes


def _env(home: str) -> dict[str, str]:
    env = {k: os.environ[k] for k in ENV_ALLOWED if k in os.environ}
    env.setdefault("PATH", os.defpath)
    env.setdefault("LANG", "C.UTF-8")
    return {**env, **ENV_FIXED, "HOME": home, "TMPDIR": home}


def _tasks_of(uid: int) -> int:
    """Processes (Linux: threads) of a real uid: RLIMIT_NPROC counts them all, not only ours."""
    count = 0
    for proc in psutil.process_iter(["uids", "num_threads"]):
        uids = proc.info["uids"]
        if uids is not None and uids.real == uid:
            count += (proc.info["num_threads"] or 1) if sys.platform.startswith("linux") else 1
    return count


def _nproc(setup: Setup, limits: Limits) -> int | None:
    """The RLIMIT_NPROC to set, or None where it cannot bind (root, which it exempts)."""
    if setup.unshare & CLONE_NEWUSER:  # counted within the new user namespace: ours only
        return limits.max_procs + 3  # + the entry process, the namespace's init and the program
    uid = setup.drop_to[0] if setup.drop_to else os.getuid()
    return None if uid == 0 else _tasks_of(uid) + limits.max_procs + 1


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, 9)
    except (ProcessLookupError, PermissionError):
        pass


def _poll(pid: int) -> tuple[bool, tuple[int, Any] | None]:
    """Whether the child ended, and its (status, rusage) if that reaped it. Where waitid exists
    (not on macOS) it is left unreaped, so its pid, the group's id, cannot be reused before the
    group is killed."""
    if hasattr(os, "waitid"):
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None, None
    done, status, usage = os.wait4(pid, os.WNOHANG)
    return (True, (status, usage)) if done else (False, None)


def _remove_tree(path: str) -> None:
    # a program may leave directories without write permission
    def unlock(func: Callable[[str], object], p: str, _exc: object) -> None:
        for d in (os.path.dirname(p), p):
            if os.path.isdir(d) and not os.path.islink(d):
                os.chmod(d, 0o700)
        func(p)
    try:
        shutil.rmtree(path, onerror=unlock)
    except OSError:
        shutil.rmtree(path, ignore_errors=True)


class Sandbox:
    """Runs programs contained as `containment` (probed when not given) says this machine allows."""

    def __init__(self, limits: Limits, containment: Containment | None = None) -> None:
        self.limits = limits
        self.containment = containment or probe(limits)

    def run(self, argv: list[str], stdin: bytes = b"") -> Outcome:
        """Run `argv` with `stdin`; SandboxError when the sandbox itself could not be set up."""
        return _run(self.containment.setup, self.limits, argv, stdin)


def _python_paths() -> list[str]:
    """What the view shows of the Python installation (read-only): the prefixes, the venv."""
    paths = [sys.base_prefix, sys.base_exec_prefix, sys.prefix, sys.exec_prefix,
             os.path.dirname(os.path.realpath(sys.executable))]
    return list(dict.fromkeys(p for p in paths if p and p != "/" and os.path.isdir(p)))  # "/": never all


def _run(setup: Setup, limits: Limits, argv: list[str], stdin: bytes) -> Outcome:
    workdir = tempfile.mkdtemp(prefix="harness-python-")  # with a view: the mount point of its root
    inner = f"/tmp/{os.path.basename(workdir)}" if setup.unshare & CLONE_NEWNS else workdir
    group = sandbox_cgroup.create(limits.total_mb) if setup.cgroup else None
    try:
        if setup.cgroup and group is None:
            raise SandboxError("no memory cgroup can be made here")
        if setup.drop_to:
            os.chown(workdir, *setup.drop_to)
        ro = _python_paths()
        fs = {"root": workdir, "workdir": inner, "ro": ro, "disk_mb": limits.disk_mb}
        if setup.seatbelt:
            argv = seatbelt_argv(workdir, ro, argv)
        config = {"unshare": setup.unshare, "drop_to": setup.drop_to, "read_all": setup.read_all,
                  "limits": limits.rlimits(_nproc(setup, limits)), "argv": argv,
                  "fs": fs if setup.unshare & CLONE_NEWNS else None, "cgroup": group}
        proc = subprocess.Popen([sys.executable, "-I", "-S", str(ENTRY), json.dumps(config)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                cwd=workdir, env=_env(inner), start_new_session=True)
        try:
            outcome = _drive(proc, stdin, limits)
        finally:
            if proc.returncode is None:  # _drive did not get to reap it
                _kill_group(proc.pid)
                proc.wait()
        if group is not None:
            outcome = replace(outcome, oom_killed=sandbox_cgroup.oom_killed(group))
    finally:
        _remove_tree(workdir)
        if group is not None:
            sandbox_cgroup.remove(group)
    if outcome.exit_code == 125 and outcome.stderr.text.startswith(SETUP_FAILED):
        raise SandboxError(outcome.stderr.text[len(SETUP_FAILED):].strip())
    return outcome


def _drive(proc: subprocess.Popen[bytes], stdin: bytes, limits: Limits) -> Outcome:
    """Feed stdin, collect output until the program ends or times out, then reap it."""
    pipes = Pipes(proc, stdin, limits.output_bytes)
    start = time.monotonic()
    ended, timed_out, reaped = None, False, None
    try:
        while True:
            now = time.monotonic()
            if ended is None:
                exited, reaped = _poll(proc.pid)
                if exited or now >= start + limits.timeout_s:
                    ended, timed_out = now, not exited
                    _kill_group(proc.pid)  # on exit too: whatever it left in its process group
            if ended is not None and (not pipes.reading or now >= ended + DRAIN_S):
                break
            until = ended + DRAIN_S if ended is not None else start + limits.timeout_s
            pipes.pump(min(0.05 if pipes.reading else 0.01, max(until - now, 0.0)))
    finally:
        pipes.close()
    status, usage = reaped or os.wait4(proc.pid, 0)[1:]
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Outcome(pipes.out.result(), pipes.err.result(),
                   exit_code=os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                   signal=os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                   timed_out=timed_out, cpu_s=usage.ru_utime + usage.ru_stime,
                   wall_s=time.monotonic() - start)


# --- the probe -----------------------------------------------------------------------------------

_PROBE = """
import json, mmap, os, resource, socket
report = {}
s = socket.socket()
s.settimeout(2)
try:
    s.connect(("127.0.0.1", PORT))
    report["network"] = True
except OSError:
    report["network"] = False
try:
    mmap.mmap(-1, MEMORY)
    report["memory"] = False
except (OSError, ValueError, MemoryError):
    report["memory"] = True
r, w = os.pipe()
children, report["procs"] = 0, False
for _ in range(PROCS):
    try:
        pid = os.fork()
    except OSError:
        report["procs"] = True
        break
    if pid == 0:
        os.close(w)
        os.read(r, 1)
        os._exit(0)
    children += 1
os.close(w)
for _ in range(children):
    os.wait()
try:
    open(CANARY).close()
    report["files"] = False
except OSError:
    report["files"] = True
try:
    report["cgroup"] = "harness-python-" in open("/proc/self/cgroup").read()
except OSError:
    report["cgroup"] = False
report["cpu"] = resource.getrlimit(resource.RLIMIT_CPU)[0] != resource.RLIM_INFINITY
print(json.dumps(report))
"""


def candidates() -> list[Setup]:
    """The set-ups to try, strongest first."""
    if not sys.platform.startswith("linux"):
        return [Setup(seatbelt=True), Setup()] if os.path.exists(SEATBELT) else [Setup()]
    ns, view = CLONE_NEWNET | CLONE_NEWPID, CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWNS
    if os.geteuid() == 0:
        return [Setup(view, NOBODY), Setup(view, NOBODY, True), Setup(ns, NOBODY), Setup(ns, NOBODY, True),
                Setup(ns), Setup(0, NOBODY), Setup(0, NOBODY, True), Setup()]
    return [Setup(view | CLONE_NEWUSER), Setup(ns | CLONE_NEWUSER), Setup()]


@lru_cache(maxsize=8)
def probe(limits: Limits, setups: tuple[Setup, ...] | None = None) -> Containment:
    """The first set-up that starts, and what it contains, measured by running code inside it."""
    probe_limits = replace(limits, timeout_s=max(limits.timeout_s, 10.0))
    errors = []
    with socket.socket() as server, tempfile.TemporaryDirectory(prefix="harness-probe-") as outside:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        canary = Path(outside, "canary")
        canary.write_text("outside the view\n")
        os.chmod(outside, 0o755)
        canary.chmod(0o644)
        code = (_PROBE.replace("PORT", str(server.getsockname()[1]))
                .replace("MEMORY", str((limits.memory_mb + 64) << 20))
                .replace("PROCS", str(limits.max_procs + 4)).replace("CANARY", repr(str(canary))))
        for setup in setups or [v for s in candidates() for v in (replace(s, cgroup=True), s)]:
            try:
                outcome = _run(setup, probe_limits, [sys.executable, "-I", "-"], code.encode())
            except SandboxError as exc:
                errors.append(str(exc) if not setup.cgroup else "")
                continue
            try:
                report = json.loads(outcome.stdout.text)
            except ValueError:
                raise SandboxError(f"the probe failed: {outcome.stderr.text.strip()[-300:]}") from None
            return Containment(setup, network_cut=not report["network"], memory_limited=report["memory"],
                               procs_limited=report["procs"], cpu_limited=report["cpu"],
                               files_hidden=report["files"], failed=next(filter(None, errors), ""),
                               total_memory_limited=setup.cgroup and report["cgroup"])
    raise SandboxError("; ".join(filter(None, errors)))
