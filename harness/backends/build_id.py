"""Which llama.cpp ran a point: llama-bench's `build_commit` and `build_number`.

In-process: the commit the loaded library was built from (`ggml_commit()`), the number from the
tools of the same build beside it. A llama-server binary: its `--version`. A running server: the
`build_info` of its /props (`b11312-0c1e57098`). A build without git history reports llama.cpp's
own unknown values (`unknown`, 0).
"""
from __future__ import annotations

import functools
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

UNKNOWN_COMMIT = "unknown"
TOOLS = ("llama-server", "llama-bench", "llama-quantize")  # built with the libraries (Makefile)

_PROPS = re.compile(r"^b(\d+)-([0-9A-Za-z.+_-]+)$")  # /props build_info
_VERSION = re.compile(r"version:\s*(\d+)\s*\(([^)]+)\)")  # --version of older builds
_VERSION_NOW = re.compile(r"\(build (\d+), commit ([^)\s]+)\)")  # "version: 0.5.0-dev (build 11312, commit 0c1e57098)"


@dataclass(frozen=True)
class BuildId:
    commit: str = UNKNOWN_COMMIT
    number: int = 0

    def columns(self) -> dict[str, str | int]:
        return {"build_commit": self.commit, "build_number": self.number}


def parse(text: str | None) -> BuildId | None:
    """A build id from /props' build_info or a tool's --version output; None when neither."""
    if not text:
        return None
    text = text.strip()
    m = _PROPS.match(text) or _VERSION_NOW.search(text) or _VERSION.search(text)
    return BuildId(m.group(2), int(m.group(1))) if m else None


@functools.lru_cache(maxsize=16)
def _of_binary(path: str, mtime: float) -> BuildId | None:
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return parse(done.stdout + done.stderr)


def of_binary(path: Path) -> BuildId | None:
    """The build a llama.cpp tool reports with --version (cached per file and mtime)."""
    try:
        return _of_binary(str(path), path.stat().st_mtime)
    except OSError:
        return None


def library_dir() -> Path:
    """The folder llama-cpp-python loads libllama from (symlinks resolved: the build's own folder)."""
    from llama_cpp import llama_cpp as lib
    base = Path(lib._base_path)
    for name in ("libllama.so", "libllama.dylib", "llama.dll"):
        if (base / name).exists():
            return (base / name).resolve().parent
    return base


def library_commit() -> str:
    """ggml_commit() of the loaded library: the commit its build was given."""
    import ctypes

    from llama_cpp import llama_cpp as lib
    try:
        fn = lib._lib.ggml_commit
    except AttributeError:
        return UNKNOWN_COMMIT
    fn.restype, fn.argtypes = ctypes.c_char_p, []
    raw = fn()
    return raw.decode("utf-8", "replace") if raw else UNKNOWN_COMMIT


@functools.lru_cache(maxsize=1)
def in_process() -> BuildId:
    """The llama.cpp the in-process backend runs; the number from a tool of the same build beside it."""
    commit = library_commit()
    here = library_dir()
    for tool in TOOLS:
        found = of_binary(here / tool) if (here / tool).is_file() else None
        if found is not None and found.commit == commit:
            return found
    return BuildId(commit, 0)
