"""A managed llama-server: the binary found, its flags read from --help, started and stopped.

Each config axis maps onto the flags the binary actually accepts (builds of many versions are in
use), the server listens on a free loopback port, and every server started here is stopped at
interpreter exit, on SIGTERM and after Ctrl-C. One server is kept between points while its
server-side arguments stay the same (as the in-process backend keeps its model).
"""
from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from harness.backends import nvml, offload
from harness.backends.orphans import die_with_parent
from harness.backends.params import check_devices, load_mode, physical_cores
from harness.config.values import parse_cpu_mask
from harness.models import buffers

if TYPE_CHECKING:
    from harness.config.schema import BackendConfig

HOST = "127.0.0.1"
_FLAG = re.compile(r"(?<![\w-])(--?[A-Za-z][\w.+-]*)")
_CHOICES = re.compile(r"[\[{]([\w+.-]+(?:[|,][\w+.-]+)+)[\]}]")
_TIMESTAMP = re.compile(r"^\d+(\.\d+){3} ")  # llama.cpp's log prefix "0.00.007.711 "
_ERROR_LINE = re.compile(r"error|invalid|failed|unknown|not found|cannot|couldn't", re.IGNORECASE)



class ServerError(RuntimeError):
    """llama-server could not be found, configured or started (one line); .log_tail: the server's last lines."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(message)
        self.log_tail = log_tail


def resolve_binary(cfg: BackendConfig) -> Path:
    """cfg.server_binary, else $LLAMA_SERVER, else the llama-server built with the in-process
    libraries (`make install` puts it in the venv's bin), else one on PATH."""
    given = cfg.server_binary or os.environ.get("LLAMA_SERVER")
    if given:
        path: Path | None = Path(given).expanduser()
        how = str(path)
    else:
        beside = Path(sys.executable).parent / "llama-server"
        on_path = shutil.which("llama-server")
        path = beside if beside.is_file() else Path(on_path) if on_path else None
        how = f"none beside {sys.executable} or on PATH (`make install` builds one)"
    if path is None or not path.is_file() or not os.access(path, os.X_OK):
        raise ServerError(f"llama-server not found: {how}; set backend.server_binary or LLAMA_SERVER")
    return path


_FLAGS_CACHE: dict[tuple[str, float], frozenset[str]] = {}


def parse_help(text: str) -> frozenset[str]:
    """Every -x/--xxx flag of a llama.cpp --help text, plus `flag=choice` for choice lists ([on|off])."""
    flags: set[str] = set()
    for line in text.splitlines():
        s = line.strip()
        if not re.match(r"--?[A-Za-z]", s):
            continue
        head = re.split(r"(?<![,\s])\s{2,}|\t", s, maxsplit=1)[0]  # "-t,    --threads N    text"
        names = _FLAG.findall(head)
        flags.update(names)
        for m in _CHOICES.finditer(head):
            flags.update(f"{n}={c}" for n in names for c in re.split(r"[|,]", m.group(1)))
    return frozenset(flags)


def supported_flags(binary: Path) -> frozenset[str]:
    """The flags `binary --help` lists (cached per path and mtime)."""
    binary = Path(binary)
    key = (str(binary.resolve()), binary.stat().st_mtime)
    if key not in _FLAGS_CACHE:
        try:
            out = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=60,
                                 stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise ServerError(f"{binary} --help failed: {e}") from e
        flags = parse_help(out.stdout + "\n" + out.stderr)
        if "--port" not in flags:
            last = (out.stderr.strip().splitlines() or ["no output"])[-1]
            raise ServerError(f"{binary} --help lists no --port (exit {out.returncode}): {last}")
        _FLAGS_CACHE[key] = flags
    return _FLAGS_CACHE[key]


def _pick(flags: frozenset[str], *spellings: str) -> str | None:
    return next((s for s in spellings if s in flags), None)


def _need(flags: frozenset[str], axis: str, value: Any, binary: str, *spellings: str) -> str:
    flag = _pick(flags, *spellings)
    if flag is None:
        raise ServerError(f"{axis}={value} cannot be set on {binary}: it accepts none of {'/'.join(spellings)}")
    return flag


def _load_mode_args(mode: str, flags: frozenset[str], binary: str) -> list[str]:
    """-lm MODE on current builds; older builds: --no-mmap / --mlock / --direct-io."""
    lm = _pick(flags, "-lm", "--load-mode")
    if lm:
        return [lm, mode]
    no_mmap, mlock = _pick(flags, "--no-mmap"), _pick(flags, "--mlock")
    dio = _pick(flags, "-dio", "--direct-io")
    old = {"mmap": [], "none": [no_mmap], "mlock": [no_mmap, mlock], "mmap+mlock": [mlock], "dio": [dio]}
    args = old.get(mode, [None])
    if None in args:
        raise ServerError(f"load_mode={mode} cannot be set on {binary}: no -lm/--load-mode and no older spelling")
    return [a for a in args if a]


def _flash_attn_args(value: str, flags: frozenset[str], binary: str) -> list[str]:
    """-fa on|off|auto on current builds; older builds: bare -fa for on, nothing for their default."""
    fa = _pick(flags, "-fa", "--flash-attn")
    if fa and f"{fa}={value}" in flags:
        return [fa, value]
    if fa and not any(f.startswith(fa + "=") for f in flags):  # boolean -fa (off by default)
        return {"on": [fa], "off": [], "auto": []}[value]
    if value == "auto":
        return []
    raise ServerError(f"flash_attn={value} cannot be set on {binary}: no -fa/--flash-attn that takes it")


def _offload_args(cfg: BackendConfig, flags: frozenset[str], binary: str) -> list[str]:
    """-ncmoe -ot -nkvo -sm -mg -ts where they differ from the server's defaults (backends/offload.py)."""
    if cfg.main_gpu or cfg.tensor_split:  # beyond the binary's GPUs: refused here (an unknown -ot buffer type: by it)
        try:
            check_devices(cfg, None, offload.gpu_devices(binary) if "--list-devices" in flags else 0, binary)
        except ValueError as exc:
            raise ServerError(str(exc)) from None
    args: list[str] = []
    for axis, value, spellings in offload.server_flags(cfg):
        flag = _need(flags, axis, value or True, binary, *spellings)
        args += [flag] if value is None else [flag, value]
    return args


def model_args(cfg: BackendConfig, model_path: Path, flags: frozenset[str],
               binary: str = "llama-server") -> list[str]:
    """Server-side arguments for cfg (everything but the address): what decides reuse."""
    args = [_need(flags, "model", model_path, binary, "-m", "--model"), str(model_path)]
    for axis, value, spellings in (("n_ctx", cfg.n_ctx, ("-c", "--ctx-size")),
                                   ("n_batch", cfg.n_batch, ("-b", "--batch-size")),
                                   ("n_ubatch", cfg.n_ubatch, ("-ub", "--ubatch-size"))):
        args += [_need(flags, axis, value, binary, *spellings), str(value)]
    args += _load_mode_args(load_mode(cfg), flags, binary)
    args += [_need(flags, "n_gpu_layers", cfg.n_gpu_layers, binary, "-ngl", "--n-gpu-layers", "--gpu-layers"),
             str(cfg.n_gpu_layers)]
    args += _flash_attn_args(cfg.flash_attn, flags, binary)
    args += [_need(flags, "n_threads", cfg.n_threads, binary, "-t", "--threads"),
             str(cfg.n_threads or physical_cores())]
    if parse_cpu_mask(cfg.cpu_mask):  # 0x0: the server's default, no pinning
        args += [_need(flags, "cpu_mask", cfg.cpu_mask, binary, "-C", "--cpu-mask"), cfg.cpu_mask]
    for axis, kv_type, spellings in (("type_k", cfg.type_k, ("-ctk", "--cache-type-k")),
                                     ("type_v", cfg.type_v, ("-ctv", "--cache-type-v"))):
        if kv_type != "f16" or _pick(flags, *spellings):  # f16 is every build's default
            args += [_need(flags, axis, kv_type, binary, *spellings), kv_type]
    if getattr(cfg, "repack", True) is False:  # llama-server's default is on (no key: on, as DictConfig.get)
        args += [_need(flags, "repack", False, binary, "-nr", "--no-repack")]
    if cfg.swa_full:  # llama-server's default is off
        args += [_need(flags, "swa_full", True, binary, "--swa-full")]
    args += [_need(flags, "n_parallel", cfg.n_parallel, binary, "-np", "--parallel"), str(cfg.n_parallel)]
    args += _offload_args(cfg, flags, binary)
    lv = _pick(flags, "-lv", "--verbosity", "--log-verbosity")  # 4: llama.cpp's info lines, its buffer sizes
    args += [lv, "4"] if lv else []
    # the GGUF's embedded chat template (jinja), no warm-up run, no web UI: where the build has them
    args += [f for f in (_pick(flags, "--jinja"), _pick(flags, "--no-warmup"),
                         _pick(flags, "--no-webui", "--no-ui")) if f]
    fit = _pick(flags, "-fit=off", "--fit=off")  # every axis is set: no probing load before the real one
    return args + (fit.split("=") if fit else [])


def server_args(cfg: BackendConfig, model_path: Path, port: int, flags: frozenset[str],
                binary: str = "llama-server") -> list[str]:
    """The full llama-server argument list (without the binary) for cfg on 127.0.0.1:port."""
    return [*model_args(cfg, model_path, flags, binary), "--host", HOST, "--port", str(port)]


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


_LIVE: set[ManagedServer] = set()


class ManagedServer:
    """One llama-server process: `binary args --host 127.0.0.1 --port <free port>`."""

    def __init__(self, binary: Path, args: Sequence[str], startup_timeout_s: float = 120.0) -> None:
        self.binary, self.args = Path(binary), list(args)
        self.startup_timeout_s = startup_timeout_s
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.log_path: Path | None = None
        self.load_s: float | None = None
        self.reused = False

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, log_path: Path) -> None:
        """Start and wait until /health answers 200; ServerError (one line) otherwise."""
        self.log_path = Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(3):  # a port taken between free_port() and the server's bind: retry
            self.port = free_port()
            try:
                with open(self.log_path, "ab") as log:
                    self.proc = subprocess.Popen(
                        [str(self.binary), *self.args, "--host", HOST, "--port", str(self.port)],
                        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                        start_new_session=True,  # Ctrl-C reaches the harness, which then stops the server
                        preexec_fn=die_with_parent(signal.SIGTERM))
            except OSError as e:
                raise ServerError(f"llama-server could not be run ({self.binary}): {e}") from e
            install_cleanup()
            _LIVE.add(self)
            try:
                self._wait_healthy()
                return
            except BaseException as e:  # ServerError, or Ctrl-C while waiting: nothing left running
                self.stop()
                if not isinstance(e, ServerError):
                    raise
                e.log_tail = self.log_tail()
                if attempt < 2 and re.search(r"couldn't bind|address already in use", e.log_tail, re.IGNORECASE):
                    continue
                raise

    def _wait_healthy(self) -> None:
        t0 = time.perf_counter()
        deadline = t0 + self.startup_timeout_s
        m = next((i for i, a in enumerate(self.args) if a in ("-m", "--model")), None)
        model = self.args[m + 1] if m is not None and m + 1 < len(self.args) else "?"
        proc = self.proc
        assert proc is not None  # start() made it
        with httpx.Client(timeout=2.0, trust_env=False) as client:  # loopback: no proxy
            while True:
                code = proc.poll()
                if code is not None:
                    raise ServerError(f"llama-server exited with code {code} while starting ({self.binary}, "
                                      f"port {self.port}, model {model}): {self.reason()}")
                try:
                    if client.get(f"{self.url}/health").status_code == 200:
                        self.load_s = time.perf_counter() - t0
                        return
                except httpx.TransportError:
                    pass
                if time.perf_counter() > deadline:
                    raise ServerError(f"llama-server not healthy after {self.startup_timeout_s:g} s "
                                      f"({self.binary}, port {self.port}, model {model}): {self.reason()}")
                time.sleep(0.05)

    def log_tail(self, n: int = 20) -> str:
        """The last n lines of the server's log."""
        if not self.log_path or not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 65536))
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join(ln.rstrip() for ln in lines[-n:])

    def reason(self) -> str:
        """The log line that best says what went wrong: an E-level line, an `error:` line, else error-like."""
        lines = [_TIMESTAMP.sub("", ln.strip()) for ln in self.log_tail(40).splitlines() if ln.strip()]
        for test in (lambda ln: ln.startswith("E "), lambda ln: ln.lower().startswith("error"), _ERROR_LINE.search):
            hits = [ln for ln in lines if test(ln)]
            if hits:
                return hits[0][:400]
        return (lines or ["no log output"])[-1][:400]

    def wait_exit(self, timeout: float) -> int | None:
        """The exit code once the process has ended (waiting up to timeout s), else None."""
        try:
            return self.proc.wait(timeout) if self.proc else None
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        """Terminate, wait 10 s, kill; safe to call twice."""
        proc, self.proc = self.proc, None
        _LIVE.discard(self)
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if proc is not None:
            proc.wait()

def stop_all() -> None:
    """Stop every server started here (atexit, SIGTERM)."""
    for srv in list(_LIVE):
        srv.stop()


def _on_sigterm(signum: int, frame: Any) -> None:
    stop_all()
    prev = _PREV_SIGTERM
    if callable(prev):
        prev(signum, frame)
    elif prev != signal.SIG_IGN:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


_PREV_SIGTERM: Any = None
_INSTALLED: set[str] = set()


def install_cleanup() -> None:
    """Stop every server started here at interpreter exit and on SIGTERM (then the previous handler
    runs). Called as a server starts, so a process that never starts one keeps its handlers;
    once per process (SIGTERM only from the main thread: the first start there installs it)."""
    global _PREV_SIGTERM
    if "atexit" not in _INSTALLED:
        atexit.register(stop_all)
        _INSTALLED.add("atexit")
    if "sigterm" not in _INSTALLED and threading.current_thread() is threading.main_thread():
        _PREV_SIGTERM = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, _on_sigterm)
        _INSTALLED.add("sigterm")


_SERVER: dict[str, Any] = {}  # the one kept server: key, server


def ensure_server(cfg: BackendConfig, model_path: Path, log_dir: Path) -> ManagedServer:
    """The running server for these server-side args (reused: .reused True), else a fresh one."""
    binary = resolve_binary(cfg)
    args = model_args(cfg, Path(model_path), supported_flags(binary), str(binary))
    env = sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith("LLAMA_ARG_"))  # the server reads these
    key = "\0".join([str(binary), *args, *env])
    srv: ManagedServer | None = _SERVER.get("server")
    if srv is not None and _SERVER.get("key") == key and srv.alive():
        srv.reused = True
        return srv
    release_server()
    srv = ManagedServer(binary, args, cfg.startup_timeout_s)
    log_dir = Path(log_dir)
    log, n = log_dir / "llama-server.log", 1
    while log.exists():
        n += 1
        log = log_dir / f"llama-server.{n}.log"
    srv.start(log)
    _SERVER.update(key=key, server=srv)
    return srv


def memory_columns(srv: ManagedServer) -> dict[str, Any]:
    """The mem_* columns from the buffer sizes the server logged at load (models/buffers.py), and NVML's
    device memory in use."""
    lines: list[str] = []
    if srv.log_path is not None and srv.log_path.is_file():
        with open(srv.log_path, encoding="utf-8", errors="replace") as f:
            lines = [ln for ln in f if buffers.kept(ln)]
    return {**buffers.parse(lines).columns(), **nvml.used_columns()}


def current_server() -> ManagedServer | None:
    return _SERVER.get("server")


def release_server() -> None:
    """Stop the kept server, if any."""
    srv = _SERVER.pop("server", None)
    _SERVER.clear()
    if srv is not None:
        srv.stop()

