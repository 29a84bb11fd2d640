"""Run a program in a contained child process: the python tool's sandbox.

Every run gets a fresh temporary working directory (HOME too; removed afterwards), an environment
of a few allowlisted variables (no API keys, no tokens), a wall-clock timeout after which its
whole process group is killed, and per-process limits (CPU seconds, address space, file size,
open files, processes). On Linux it also gets, where the OS allows, a network namespace of its
own (no interfaces up: no network, not even loopback) and a PID namespace (when the program ends,
everything it started dies with it); started as root, the program runs as `nobody`.

What holds on this machine is measured once per set of limits by `probe`: it starts the sandbox
in the strongest set-up first and falls back while a set-up fails, then runs code inside that
tries to reach a loopback server, map more memory than allowed and fork more than allowed.
"""
from __future__ import annotations

import json
import os
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import psutil

from harness.agent.tools.sandbox_entry import CLONE_NEWPID, SETUP_FAILED

CLONE_NEWUSER, CLONE_NEWNET = 0x10000000, 0x40000000
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
    output_bytes: int = 20_000  # of stdout and of stderr each; past it the middle is cut
    cpu_s: int | None = None  # None: the timeout rounded up, plus 1 s, so the wall clock ends a busy loop
    # first (a loop's CPU time never passes its wall time); the CPU limit stops multi-threaded burners

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


@dataclass(frozen=True)
class Containment:
    """What the probe measured: the set-up in use and which limits hold on this machine."""

    setup: Setup
    network_cut: bool
    memory_limited: bool
    procs_limited: bool
    cpu_limited: bool

    @property
    def reaps_leftovers(self) -> bool:
        """Processes the program leaves behind (even in a new session) die when it ends."""
        return bool(self.setup.unshare & CLONE_NEWPID)


@dataclass(frozen=True)
class Captured:
    """Output kept from one stream: its head and tail, `cut` bytes of the middle left out."""

    text: str
    cut: int


@dataclass(frozen=True)
class Outcome:
    stdout: Captured
    stderr: Captured
    exit_code: int | None  # None when ended by a signal
    signal: int | None
    timed_out: bool
    cpu_s: float  # user + system time of the program and the children it waited for
    wall_s: float


class _Capture:
    """Keeps the first 3/4 and the last 1/4 of `limit` bytes of a stream, and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.head_max, self.tail_max = limit - limit // 4, limit // 4
        self.head, self.tail, self.total = bytearray(), bytearray(), 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_max - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        self.tail += data
        if len(self.tail) > self.tail_max:
            del self.tail[:len(self.tail) - self.tail_max]

    def result(self) -> Captured:
        cut = self.total - len(self.head) - len(self.tail)
        text = self.head.decode("utf-8", "replace")
        if cut:
            text += f"\n[... {cut} bytes cut ...]\n"
        return Captured(text + self.tail.decode("utf-8", "replace"), cut)


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
    def unlock(func, p, _exc) -> None:  # a program may leave directories without write permission
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


def _run(setup: Setup, limits: Limits, argv: list[str], stdin: bytes) -> Outcome:
    workdir = tempfile.mkdtemp(prefix="harness-python-")
    try:
        if setup.drop_to:
            os.chown(workdir, *setup.drop_to)
        config = {"unshare": setup.unshare, "drop_to": setup.drop_to, "read_all": setup.read_all,
                  "limits": limits.rlimits(_nproc(setup, limits)), "argv": argv}
        proc = subprocess.Popen([sys.executable, "-I", "-S", str(ENTRY), json.dumps(config)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                cwd=workdir, env=_env(workdir), start_new_session=True)
        try:
            outcome = _drive(proc, stdin, limits)
        finally:
            if proc.returncode is None:  # _drive did not get to reap it
                _kill_group(proc.pid)
                proc.wait()
    finally:
        _remove_tree(workdir)
    if outcome.exit_code == 125 and outcome.stderr.text.startswith(SETUP_FAILED):
        raise SandboxError(outcome.stderr.text[len(SETUP_FAILED):].strip())
    return outcome


class _Pipes:
    """The program's stdin (fed from a buffer) and its stdout and stderr (captured), non-blocking."""

    def __init__(self, proc: subprocess.Popen, stdin: bytes, limit: int) -> None:
        assert proc.stdin and proc.stdout and proc.stderr
        self.stdin, self.pending = proc.stdin, memoryview(stdin)
        self.streams = (proc.stdin, proc.stdout, proc.stderr)
        self.out, self.err = _Capture(limit), _Capture(limit)
        self.sel = selectors.DefaultSelector()
        for stream, capture in ((proc.stdout, self.out), (proc.stderr, self.err)):
            os.set_blocking(stream.fileno(), False)
            self.sel.register(stream, selectors.EVENT_READ, capture)
        if self.pending:
            os.set_blocking(self.stdin.fileno(), False)
            self.sel.register(self.stdin, selectors.EVENT_WRITE)
        else:
            self.stdin.close()

    @property
    def reading(self) -> bool:
        return any(key.fileobj is not self.stdin for key in self.sel.get_map().values())

    def pump(self, timeout: float) -> None:
        """Move data for up to `timeout` seconds."""
        if not self.sel.get_map():
            time.sleep(timeout)
            return
        for key, _ in self.sel.select(timeout):
            if key.fileobj is self.stdin:
                self._write()
                continue
            data = os.read(key.fd, 1 << 16)
            if data:
                key.data.add(data)
            else:
                self.sel.unregister(key.fileobj)

    def _write(self) -> None:
        try:
            self.pending = self.pending[os.write(self.stdin.fileno(), self.pending):]
        except BlockingIOError:
            return
        except BrokenPipeError:  # the program stopped reading
            self.pending = self.pending[:0]
        if not self.pending:
            self.sel.unregister(self.stdin)
            self.stdin.close()

    def close(self) -> None:
        self.sel.close()
        for stream in self.streams:
            stream.close()


def _drive(proc: subprocess.Popen, stdin: bytes, limits: Limits) -> Outcome:
    """Feed stdin, collect output until the program ends or times out, then reap it."""
    pipes = _Pipes(proc, stdin, limits.output_bytes)
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
report["cpu"] = resource.getrlimit(resource.RLIMIT_CPU)[0] != resource.RLIM_INFINITY
print(json.dumps(report))
"""


def candidates() -> list[Setup]:
    """The set-ups to try, strongest first."""
    if not sys.platform.startswith("linux"):
        return [Setup()]
    ns = CLONE_NEWNET | CLONE_NEWPID
    if os.geteuid() == 0:
        return [Setup(ns, NOBODY), Setup(ns, NOBODY, True), Setup(ns),
                Setup(0, NOBODY), Setup(0, NOBODY, True), Setup()]
    return [Setup(ns | CLONE_NEWUSER), Setup()]


@lru_cache(maxsize=8)
def probe(limits: Limits, setups: tuple[Setup, ...] | None = None) -> Containment:
    """The first set-up that starts, and what it contains, measured by running code inside it."""
    probe_limits = replace(limits, timeout_s=max(limits.timeout_s, 10.0))
    errors = []
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        code = (_PROBE.replace("PORT", str(server.getsockname()[1]))
                .replace("MEMORY", str((limits.memory_mb + 64) << 20))
                .replace("PROCS", str(limits.max_procs + 4)))
        for setup in setups or candidates():
            try:
                outcome = _run(setup, probe_limits, [sys.executable, "-I", "-"], code.encode())
            except SandboxError as exc:
                errors.append(str(exc))
                continue
            try:
                report = json.loads(outcome.stdout.text)
            except ValueError:
                raise SandboxError(f"the probe failed: {outcome.stderr.text.strip()[-300:]}") from None
            return Containment(setup, network_cut=not report["network"], memory_limited=report["memory"],
                               procs_limited=report["procs"], cpu_limited=report["cpu"])
    raise SandboxError("; ".join(errors))
