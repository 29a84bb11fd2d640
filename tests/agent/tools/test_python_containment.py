"""The python tool must not see the user's files: its program gets a filesystem view of its own.

Run as root (CI) the program drops to `nobody`, which alone hides mode-600 files; so the proof is
a world-readable (644) file in a temporary 'home' outside the view, and beside it a 600 file
owned by another, non-root uid (as a non-root user: owned by that user, the threat itself).
Where this machine cannot build the view, the tool must refuse to start, and these skip saying so.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import pytest

from harness.agent import infer
from harness.agent.tools import sandbox
from harness.agent.tools.base import Toolset
from harness.agent.tools.python_tool import PythonTool, UncontainedError
from harness.agent.tools.sandbox import Limits, Setup, probe

OTHER_UID = 4242  # a non-root user that owns the 600 file when the tests run as root


@pytest.fixture(scope="module")
def tool() -> PythonTool:
    try:
        return PythonTool(timeout_s=5)
    except UncontainedError as exc:
        pytest.skip(f"no filesystem view on this machine: {exc}")


@pytest.fixture
def home():
    """A 'home' outside the view (not under the system's temporary folder: the view has its own
    /tmp there), holding public.txt (644) and .ssh/id_ed25519 (600, another user's as root)."""
    base = Path.home() if os.access(Path.home(), os.W_OK) else Path(__file__).parent
    with tempfile.TemporaryDirectory(prefix="fake-home-", dir=base) as d:
        path = Path(d)
        path.chmod(0o755)
        (path / "public.txt").write_text("public-data\n")
        (path / "public.txt").chmod(0o644)
        (path / ".ssh").mkdir(mode=0o755)
        secret = path / ".ssh" / "id_ed25519"
        secret.write_text("secret-key\n")
        secret.chmod(0o600)
        if os.geteuid() == 0:
            os.chown(secret, OTHER_UID, OTHER_UID)
        yield path


_ATTEMPTS = """
import json, os
home = HOME
out = {}
def attempt(name, f):
    try:
        out[name] = ["ok", repr(f())[:80]]
    except Exception as exc:
        out[name] = ["blocked", type(exc).__name__]
def write(path):
    with open(path, "w") as f:
        f.write("left behind")
    return path
attempt("read_public", lambda: open(home + "/public.txt").read())
attempt("read_secret", lambda: open(home + "/.ssh/id_ed25519").read())
attempt("list_home", lambda: os.listdir(home))
attempt("list_user_home", lambda: os.listdir(os.path.expanduser("~" + USER)))
attempt("passwd_users", lambda: sorted(line.split(":")[0] for line in open("/etc/passwd")))
for name, path in WRITES.items():
    attempt(name, lambda: write(path))
attempt("write_cwd", lambda: write("kept-inside.txt"))
attempt("proc_pids", lambda: sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
print(json.dumps(out))
"""


def test_the_program_cannot_see_or_leave_files_outside_its_folder(tool: PythonTool, home: Path) -> None:
    host_tmp = Path(tempfile.gettempdir())
    user = os.environ.get("USER") or os.environ.get("LOGNAME") or "root"
    writes = {"write_home": f"{home}/dropped.txt", "write_tmp": f"{host_tmp}/dropped-{home.name}.txt",
              "write_var_tmp": f"/var/tmp/dropped-{home.name}.txt", "write_root": f"/dropped-{home.name}",
              "write_etc": f"/etc/dropped-{home.name}", "write_python": f"{sys.prefix}/dropped-{home.name}",
              "write_dev_shm": f"/dev/shm/dropped-{home.name}"}
    code = (_ATTEMPTS.replace("HOME", repr(str(home))).replace("USER", repr(user))
            .replace("WRITES", repr(writes)))
    text = Toolset([tool]).call("python", code).text
    out = json.loads(text.split("\n")[0])
    for name in ("read_public", "read_secret", "list_home"):
        assert out[name][0] == "blocked", (name, out[name])
    # the user's real home: gone, or (Python installed in it, /root/.pyenv) showing only that path
    user_home = os.path.expanduser("~" + user)
    python_in_home = {Path(p).relative_to(user_home).parts[0] for p in sandbox._python_paths()
                      if p.startswith(user_home + "/")}
    assert out["list_user_home"][0] == "blocked" or set(eval(out["list_user_home"][1])) <= python_in_home
    assert set(eval(out["passwd_users"][1])) <= {"root", "nobody"}  # not the host's user list
    for name in ("write_home", "write_var_tmp", "write_root", "write_etc", "write_python"):
        assert out[name][0] == "blocked", (name, out[name])
    assert out["write_cwd"][0] == "ok"
    assert len(json.loads(out["proc_pids"][1].strip("'"))) <= 3  # init, the program (and a child)
    for path in writes.values():  # /tmp and /dev/shm are the view's own: nothing reached the host
        assert not Path(path).exists(), f"{path} survived the run"
    assert sorted(p.name for p in home.iterdir()) == [".ssh", "public.txt"]


def test_the_level_says_what_holds(tool: PythonTool) -> None:
    containment = tool.sandbox.containment
    assert containment.files_hidden and tool.level.startswith("fs+")
    assert tool.level == containment.level and "filesystem of its own" in tool.description
    assert {"net", "pid"} <= set(tool.level.split("+")) or sys.platform != "linux"


def test_the_working_folder_is_size_limited(tool: PythonTool) -> None:
    small = Toolset([PythonTool(timeout_s=10, disk_mb=8, file_mb=64, containment=tool.sandbox.containment)])
    code = "try:\n    open('big', 'wb').write(b'x' * (16 << 20))\nexcept OSError as exc:\n    print('full', exc.errno)\n"
    assert small.call("python", code).text.startswith("full 28")  # ENOSPC


def _plain(limits: Limits):
    return probe(limits, (Setup(),))  # no namespaces: what a machine without them (or macOS) gets


def test_without_a_view_the_tool_refuses_in_one_line() -> None:
    with pytest.raises(UncontainedError) as info:
        PythonTool(timeout_s=5, containment=_plain(Limits(timeout_s=5)))
    message = str(info.value)
    assert "\n" not in message and message.startswith("python tool refused: ")
    assert "--unsafe-python" in message and "workload.unsafe_python=true" in message


def test_opting_in_runs_uncontained_and_says_so() -> None:
    tool = PythonTool(timeout_s=5, containment=_plain(Limits(timeout_s=5)), unsafe=True)
    assert not tool.level.startswith("fs")
    assert Toolset([tool]).call("python", "print(6 * 7)").text.startswith("42")


def test_infer_refuses_or_opts_in_with_one_line(monkeypatch, capsys) -> None:
    monkeypatch.setattr(sandbox, "probe", lambda limits, setups=None: _plain(limits))
    assert infer.main(["--tools", "python", "hello"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("harness infer: error: python tool refused:")
    args = infer.parser().parse_args(["--tools", "python", "--unsafe-python", "hello"])
    infer._toolset(args)
    line = capsys.readouterr().err.strip()
    assert line.startswith("[python] python tool containment: ") and "UNSAFE" in line


def test_infer_prints_the_level_at_start(tool: PythonTool, capsys) -> None:
    infer._toolset(infer.parser().parse_args(["--tools", "python", "hello"]))
    assert capsys.readouterr().err.strip() == f"[python] python tool containment: {tool.level}"


def test_a_process_tree_past_the_total_memory_limit_is_cut(tool: PythonTool) -> None:
    if not tool.sandbox.containment.total_memory_limited:
        pytest.skip("no memory cgroup can be made here (unprivileged, no delegated cgroup): "
                    "only the per-process limits hold")
    small = PythonTool(timeout_s=10, memory_mb=256, disk_mb=64)  # 320 MiB in all
    assert small.sandbox.containment.total_memory_limited
    code = ("import os\nkids = []\nfor _ in range(4):\n    pid = os.fork()\n    if pid == 0:\n"
            "        b = bytearray(200 << 20)\n        import time; time.sleep(2)\n        os._exit(0)\n"
            "    kids.append(pid)\nprint(sum(os.waitpid(k, 0)[1] != 0 for k in kids), 'killed')\n")
    text = Toolset([small]).call("python", code).text  # each child is within its own 256 MiB
    assert int(text.split()[0]) >= 2, text
    assert text.endswith("total memory limit of 320 MiB reached, a process was killed]")
    assert "320 MiB for all its processes together" in small.description


def test_the_agent_workload_refuses_unless_its_key_opts_in(monkeypatch) -> None:
    from omegaconf import OmegaConf

    from harness.config.schema import BenchConfig, WorkloadConfig
    from harness.workloads.agent import AgentWorkload
    monkeypatch.setattr(sandbox, "probe", lambda limits, setups=None: _plain(limits))
    cfg = OmegaConf.structured(BenchConfig(workload=WorkloadConfig(name="agent", python_timeout_s=5)))
    with pytest.raises(UncontainedError, match=r"workload.unsafe_python=true"):
        AgentWorkload(cfg, backend=object())
    cfg.workload.unsafe_python = True
    assert not AgentWorkload(cfg, backend=object()).python_level.startswith("fs")
