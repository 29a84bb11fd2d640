"""The sandbox's first process: enter namespaces, drop privileges, set limits, run the program.

Run as a script (standard library only, before any code of the model runs) by `sandbox.Sandbox`:
`python -I -S sandbox_entry.py CONFIG`, CONFIG a JSON object:

    unshare  clone flags for unshare(2): 0, or CLONE_NEWNET|CLONE_NEWPID (+ CLONE_NEWUSER unprivileged,
             which maps the user to nobody, 65534, inside; + CLONE_NEWNS with `fs`)
    drop_to  [uid, gid] to become before the program runs (when started as root), or null
    read_all keep CAP_DAC_READ_SEARCH after drop_to (when the interpreter is out of its reach)
    limits   {"RLIMIT_AS": [soft, hard], ...}, lowered to fit the current hard limits
    argv     the program
    cgroup   null, or a cgroup folder this process joins first (a total memory limit)
    fs       null, or {"root", "workdir", "ro", "disk_mb"}: the program's own filesystem view, built
             by `sandbox_fs.enter` in the program's process before it drops privileges

With CLONE_NEWPID this process forks a small init, pid 1 of a new PID namespace, which forks the
program (pid 2: unlike pid 1, it can signal itself), reaps orphans, and on the program's end
passes its wait status up through a pipe and exits, so the kernel kills everything left behind
(as when this process is killed: the init holds PR_SET_PDEATHSIG). This process ends the way the
program ended. Without CLONE_NEWPID, this process becomes the program. Root drops to `drop_to`
(RLIMIT_NPROC does not bind root, and root must not write outside the sandbox), keeping
CAP_DAC_READ_SEARCH if `read_all`: to read an interpreter installed where `nobody` cannot
(/root/.pyenv). Any setup failure is written to stderr after SETUP_FAILED, exit status 125.
"""
import ctypes
import json
import os
import resource
import signal
import sys
from typing import TYPE_CHECKING, Any

SETUP_FAILED = "sandbox setup failed:"
CLONE_NEWPID, CLONE_NEWUSER = 0x20000000, 0x10000000
NOBODY = 65534
PR_SET_PDEATHSIG, PR_SET_KEEPCAPS, PR_SET_NO_NEW_PRIVS = 1, 8, 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE = 47, 2
CAP_DAC_READ_SEARCH = 2
_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def fail(message: str) -> None:
    os.write(2, f"{SETUP_FAILED} {message}\n".encode())
    os._exit(125)


def libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def check(result: int, what: str) -> None:
    if result != 0:
        fail(f"{what}: {os.strerror(ctypes.get_errno())}")


def drop_privileges(uid: int, gid: int, read_all: bool) -> None:
    """Become uid/gid; with `read_all` keep CAP_DAC_READ_SEARCH (effective and ambient: past exec)."""
    lib = libc()
    check(lib.prctl(PR_SET_KEEPCAPS, int(read_all), 0, 0, 0), "prctl(PR_SET_KEEPCAPS)")
    try:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    except OSError as exc:
        fail(f"dropping to uid {uid}: {exc}")
    if not read_all:
        return
    bit = 1 << CAP_DAC_READ_SEARCH
    data = (_CapData * 2)(_CapData(bit, bit, bit), _CapData(0, 0, 0))
    check(lib.capset(ctypes.byref(_CapHeader(_CAPABILITY_VERSION_3, 0)), data), "capset")
    check(lib.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_DAC_READ_SEARCH, 0, 0), "ambient capability")


def set_limits(limits: dict[str, list[int]]) -> None:
    for name, (soft, hard) in limits.items():
        which = getattr(resource, name, None)
        if which is None:
            continue  # not on this OS; the probe reports what holds
        current_hard = resource.getrlimit(which)[1]
        if current_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError):
            pass  # not settable here (macOS: RLIMIT_AS); the probe reports what holds


def map_to_nobody(uid: int, gid: int) -> None:
    """In a new user namespace: be nobody (65534) inside, the user outside. Files the program
    creates in the view's tmpfs need a mapped uid; it is not 0, so exec drops the capabilities."""
    try:
        for name, text in (("setgroups", "deny"), ("uid_map", f"{NOBODY} {uid} 1"),
                           ("gid_map", f"{NOBODY} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
    except OSError as exc:
        fail(f"user namespace id map: {exc}")


def enter_view(fs: dict[str, Any], owner: list[int] | None) -> None:
    """Make the program's filesystem view its root (see sandbox_fs)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    if TYPE_CHECKING:
        from harness.agent.tools import sandbox_fs
    else:
        import sandbox_fs  # a sibling file: this script runs with -I, outside the package
    try:
        sandbox_fs.enter(fs["root"], fs["workdir"], fs["ro"], fs["disk_mb"], (owner[0], owner[1]) if owner else None)
    except OSError as exc:
        fail(f"filesystem view: {exc.strerror if exc.filename is None and exc.strerror else exc}")
    except Exception as exc:  # a setup failure, never a traceback
        fail(f"filesystem view: {type(exc).__name__}: {exc}")


def end_as(status: int) -> None:
    """Exit the way a wait status says: the same exit status, or the same signal."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass  # SIGKILL and SIGSTOP keep their default action anyway
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.WEXITSTATUS(status))


def init(program: int, report: int) -> None:
    """pid 1: reap every child until the program ends, then write its wait status to `report`."""
    while True:
        pid, status = os.wait()
        if pid == program:
            os.write(report, str(status).encode())
            os._exit(0)


def fork_into_namespace() -> None:
    """Return in the program's process (pid 2); the others wait and never return."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid:  # outside the namespace: end as the program did (as the init did, if it was killed)
        os.close(write_end)
        _, status = os.waitpid(pid, 0)
        reported = os.read(read_end, 32)
        end_as(int(reported) if reported else status)
    os.close(read_end)
    check(libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")
    program = os.fork()
    if program:
        init(program, write_end)
    os.close(write_end)


def main() -> None:
    config: dict[str, Any] = json.loads(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if config.get("cgroup"):
        try:
            with open(os.path.join(config["cgroup"], "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        except OSError as exc:
            fail(f"joining the memory cgroup: {exc}")
    flags = config["unshare"]
    uid, gid = os.getuid(), os.getgid()
    if flags:
        check(libc().unshare(flags), f"unshare({flags:#x})")
    if flags & CLONE_NEWUSER:
        map_to_nobody(uid, gid)
    if flags & CLONE_NEWPID:
        fork_into_namespace()
    if config.get("fs"):
        enter_view(config["fs"], config["drop_to"])
    if config["drop_to"]:
        uid_to, gid_to = config["drop_to"]
        drop_privileges(uid_to, gid_to, config["read_all"])
    if sys.platform.startswith("linux"):
        check(libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    set_limits(config["limits"])
    argv = config["argv"]
    try:
        os.execv(argv[0], argv)
    except OSError as exc:
        fail(f"exec {argv[0]}: {exc}")


if __name__ == "__main__":
    main()
