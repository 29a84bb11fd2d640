"""The python sandbox's own filesystem view: a new root holding only what Python needs (Linux),
or a Seatbelt profile allowing about the same (macOS, `seatbelt_argv` at the end).

Used by `sandbox_entry.py` (standard library only) in the program's process, inside the PID
namespace, with a private mount namespace and the capabilities to mount there (root, or the
sandbox's own user namespace). The view:

    /                 an empty tmpfs, read-only once built
    /usr /bin /lib... the system's programs and libraries, bind-mounted read-only (symlinks kept)
    PYTHON            each of `ro` (the interpreter's prefix, the venv), bind-mounted read-only
    /etc              only ld.so.cache, localtime, alternatives and fonts (read-only), and a
                      passwd/group naming root and nobody alone
    /dev              null, zero, full, random, urandom (bound from the host), fd/std* links,
                      shm -> /tmp
    /proc             a new proc of the PID namespace: the program's own processes only
    /tmp              a tmpfs of `disk_mb` MiB, the one writable place; the working folder is
                      /tmp/NAME within it (so nothing written survives the run)

Nothing else: no home folder, no workspace, no /sys, no other users' files. Mount failures raise
OSError with what failed; the entry reports them as a setup failure.
"""
import ctypes
import os

CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
MNT_DETACH = 2
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41}  # syscall numbers (glibc has no wrapper)
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_KEPT = ("ld.so.cache", "ld.so.conf", "localtime", "alternatives", "fonts")
DEVICES = ("null", "zero", "full", "random", "urandom")
PASSWD = "root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
GROUP = "root:x:0:\nnogroup:x:65534:\n"
# statvfs flags a read-only remount must keep: in a user namespace they are locked
_KEPT_FLAGS = tuple((getattr(os, st, 0), ms) for st, ms in (  # getattr: macOS lacks most (unused there)
    ("ST_NOSUID", MS_NOSUID), ("ST_NODEV", MS_NODEV), ("ST_NOEXEC", MS_NOEXEC),
    ("ST_NOATIME", MS_NOATIME), ("ST_NODIRATIME", MS_NODIRATIME), ("ST_RELATIME", MS_RELATIME)))

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def enc(s: str | None) -> bytes | None:
        return s.encode() if s is not None else None

    if _libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source or fstype} on {target}: {os.strerror(err)}")


def _bind_ro(source: str, target: str) -> None:
    """Bind `source` (a folder or a file) at `target`, read-only, keeping its locked flags."""
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    _mount(source, target, None, MS_BIND | MS_REC)
    flags = os.statvfs(target).f_flag
    kept = sum(ms for st, ms in _KEPT_FLAGS if flags & st)
    _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | kept)


def _place(path: str, root: str) -> None:
    """Put the host's `path` in the view: a symlink as the same symlink, else a read-only bind."""
    target = root + path
    if os.path.lexists(target):
        return
    if os.path.islink(path):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.symlink(os.readlink(path), target)
    elif os.path.exists(path):
        _bind_ro(path, target)


def _covered(path: str, done: list[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in done)


def enter(root: str, workdir: str, ro: list[str], disk_mb: int, owner: tuple[int, int] | None) -> None:
    """Build the view on the empty folder `root`, make it `/`, and chdir to `workdir` (a path
    under /tmp in the view); `owner` (uid, gid) gets the working folder (when root drops later)."""
    os.umask(0o022)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing below propagates back to the host
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=0755")
    # /tmp first: a Python installation that lives under /tmp (a checkout there) is bound inside it
    os.makedirs(f"{root}/tmp")
    _mount("tmpfs", f"{root}/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={disk_mb}m,mode=1777")
    done: list[str] = []
    for path in list(SYSTEM_DIRS) + [os.path.realpath(p) for p in ro] + list(ro):
        if os.path.islink(path):
            _place(path, root)
        elif not _covered(path, done):
            _place(path, root)
            done.append(path)
    for name in ETC_KEPT:
        _place(f"/etc/{name}", root)
    for name, text in (("passwd", PASSWD), ("group", GROUP)):
        with open(f"{root}/etc/{name}", "w") as f:
            f.write(text)
    os.makedirs(f"{root}/dev", exist_ok=True)
    for name in DEVICES:
        _bind_ro(f"/dev/{name}", f"{root}/dev/{name}")
    for name, link in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                       ("stderr", "/proc/self/fd/2"), ("shm", "/tmp")):
        os.symlink(link, f"{root}/dev/{name}")
    os.makedirs(f"{root}/proc")
    try:
        _mount("proc", f"{root}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except OSError:
        pass  # refused (a masked host /proc): the view then has an empty /proc
    os.mkdir(root + workdir, 0o700)
    if owner:
        os.chown(root + workdir, *owner)
    os.chdir(root)
    number = PIVOT_ROOT.get(os.uname().machine)
    if number is None or _libc.syscall(number, b".", b".") != 0:
        raise OSError(ctypes.get_errno(), f"pivot_root: {os.strerror(ctypes.get_errno())}")
    if _libc.umount2(b".", MNT_DETACH) != 0:  # the old root, stacked on the new one
        raise OSError(ctypes.get_errno(), f"umount old root: {os.strerror(ctypes.get_errno())}")
    os.chdir("/")
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir(workdir)


# --- macOS: no mount namespaces; sandbox-exec (Seatbelt) denies what the profile does not allow ---

SEATBELT = "/usr/bin/sandbox-exec"
_SEATBELT_READ = ("/usr", "/bin", "/System", "/Library/Apple", "/private/var/db/dyld",
                  "/private/var/db/timezone", "/dev", "/private/etc/localtime")


def seatbelt_argv(workdir: str, ro: list[str], argv: list[str]) -> list[str]:
    """`argv` under sandbox-exec: contents readable only in the system folders, the Python
    installation and `workdir`; writes only in `workdir` and /dev/null; no network. Metadata
    (stat, path walks) stays allowed: names and sizes outside are visible, contents and
    listings are not."""
    def quote(p: str) -> str:
        return '"' + os.path.realpath(p).replace("\\", "\\\\").replace('"', '\\"') + '"'

    readable = " ".join(f"(subpath {quote(p)})" for p in (*_SEATBELT_READ, *ro, workdir))
    profile = (f"(version 1)(allow default)(deny network*)(deny file-read-data file-read-xattr file-write*)"
               f"(allow file-read-data (literal \"/\") {readable})"
               f"(allow file-write* (subpath {quote(workdir)}) (literal \"/dev/null\"))")
    return [SEATBELT, "-p", profile, *argv]
