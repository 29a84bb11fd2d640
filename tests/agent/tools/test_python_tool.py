"""The python tool through Toolset.call, as the session calls it: output, limits, containment.

What the sandbox can contain depends on the OS; the probe measures it when the tool is built.
Where this machine does not allow a containment, its test checks that the description says so
and skips the rest, naming what was not contained.
"""
from __future__ import annotations

import json
import socket
import time
import uuid
from pathlib import Path

import psutil
import pytest

from harness.agent.tools.base import Toolset
from harness.agent.tools.python_tool import PythonTool
from harness.agent.tools.sandbox import Limits, Setup, probe

TIMEOUT = 2.0


@pytest.fixture(scope="module")
def tool() -> PythonTool:
    return PythonTool(timeout_s=TIMEOUT)


@pytest.fixture(scope="module")
def tools(tool: PythonTool) -> Toolset:
    return Toolset([tool])


@pytest.fixture
def marker():
    """A unique argument for `sleep` processes the code starts; any still alive fail the test."""
    mark = f"{int(time.time()) % 1000 + 1000}.{uuid.uuid4().int % 10**9}"
    yield mark
    left = _alive(mark)
    for proc in left:
        proc.kill()
    assert not left, f"processes left behind: {left}"


def _alive(mark: str, wait_s: float = 2.0) -> list[psutil.Process]:
    """The live `sleep <mark>` processes, once they had `wait_s` to die."""
    deadline = time.monotonic() + wait_s
    while True:
        found = []
        for proc in psutil.process_iter(["cmdline", "status"]):
            if proc.info["cmdline"] and mark in proc.info["cmdline"] and proc.info["status"] != "zombie":
                found.append(proc)
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_prints_what_is_printed_and_the_exit_status(tools: Toolset) -> None:
    result = tools.call("python", "print(6 * 7)\n6 * 9\n")
    assert result.ok
    assert result.text == "42\n[exit status 0]"  # stateless script: the last expression is not echoed


def test_stderr_and_a_failing_exit_status(tools: Toolset) -> None:
    code = "import sys\nprint('partial')\nprint('bad thing', file=sys.stderr)\nsys.exit(3)\n"
    result = tools.call("python", code)
    assert result.ok  # the program failed, not the tool
    assert result.text == "partial\n[stderr]\nbad thing\n[exit status 3]"
    traceback = tools.call("python", "1 / 0").text
    assert "ZeroDivisionError" in traceback and traceback.endswith("[exit status 1]")


def test_each_call_is_a_fresh_process(tools: Toolset) -> None:
    assert tools.call("python", "x = 5\nprint(x)").text.startswith("5")
    assert "NameError" in tools.call("python", "print(x)").text


def test_long_output_is_cut_with_a_note() -> None:
    tools = Toolset([PythonTool(timeout_s=TIMEOUT, output_bytes=1000)])
    text = tools.call("python", "print('a' * 3000 + 'END')").text
    assert "[... 2004 bytes cut ...]" in text  # 3004 bytes printed, 750 head + 250 tail kept
    assert text.startswith("a" * 750 + "\n[...") and "aEND\n[exit status 0]" in text
    assert len(text) < 1100


def test_infinite_loop_is_killed_at_the_timeout(tools: Toolset, marker: str) -> None:
    code = f"import os\nprint('started')\nif os.fork() == 0:\n    os.execv('/bin/sleep', ['sleep', '{marker}'])\nwhile True:\n    pass\n"
    start = time.monotonic()
    result = tools.call("python", code)
    elapsed = time.monotonic() - start
    assert result.error == "timeout"
    assert f"timed out after {TIMEOUT:g} s" in result.text
    assert "started" in result.text  # output until the kill is kept (unbuffered)
    assert TIMEOUT <= elapsed < TIMEOUT + 1.5
    # the `marker` fixture asserts the forked `sleep` died with it


def test_a_cpu_limit_below_the_timeout_kills_a_busy_loop() -> None:
    tools = Toolset([PythonTool(timeout_s=10, cpu_s=1)])
    start = time.monotonic()
    result = tools.call("python", "while True:\n    pass\n")
    assert result.ok and time.monotonic() - start < 5
    assert result.text.endswith("CPU time limit of 1 s reached]")


def test_memory_hog_is_contained(tool: PythonTool, tools: Toolset) -> None:
    if not tool.sandbox.containment.memory_limited:
        assert "Memory use is not limited" in tool.description
        pytest.skip("this OS does not enforce the address-space limit; the description says so")
    result = tools.call("python", "x = bytearray(4 * 1024 ** 3)\nprint('allocated')")
    assert "allocated" not in result.text and "MemoryError" in result.text
    assert result.text.endswith("[exit status 1: memory limit of 1024 MiB reached]")
    small = Toolset([PythonTool(timeout_s=10, memory_mb=256)])  # a hog that touches what it gets
    grows = small.call("python", "chunks = []\nwhile True:\n    chunks.append(bytearray(10 ** 7))\n")
    assert grows.ok and grows.text.endswith("memory limit of 256 MiB reached]")


def test_forking_is_contained(tool: PythonTool, tools: Toolset, marker: str) -> None:
    code = (f"import os\nstarted = 0\ntry:\n    for _ in range(500):\n        if os.fork() == 0:\n"
            f"            os.execv('/bin/sleep', ['sleep', '{marker}'])\n        started += 1\n"
            f"except OSError as exc:\n    print('refused after', started, type(exc).__name__)\n")
    result = tools.call("python", code)
    if not tool.sandbox.containment.procs_limited:
        pytest.skip("this OS does not let the sandbox limit processes (root without a user change)")
    assert result.ok, result.text
    refused = result.text.split("refused after ", 1)[1].split()
    assert int(refused[0]) <= tool.limits.max_procs and refused[1] == "BlockingIOError"
    # the `marker` fixture asserts no `sleep` outlived the program


def test_a_classic_fork_bomb_ends_with_the_call(tools: Toolset) -> None:
    start = time.monotonic()
    result = tools.call("python", "import os\nwhile True:\n    os.fork()\n")
    assert time.monotonic() - start < TIMEOUT + 1.5
    assert result.error in (None, "timeout")


def test_processes_left_behind_die_with_the_program(tool: PythonTool, tools: Toolset, marker: str) -> None:
    in_group = f"import os\nif os.fork() == 0:\n    os.execv('/bin/sleep', ['sleep', '{marker}'])\nprint('bye')\n"
    assert tools.call("python", in_group).text.startswith("bye")
    assert not _alive(marker)
    if not tool.sandbox.containment.reaps_leftovers:
        pytest.skip("no PID namespace here: a process that leaves its session could outlive the call")
    new_session = (f"import os\nif os.fork() == 0:\n    os.setsid()\n"
                   f"    os.execv('/bin/sleep', ['sleep', '{marker}'])\nprint('bye')\n")
    assert tools.call("python", new_session).text.startswith("bye")


def test_the_environment_holds_no_secrets(tools: Toolset, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake-secret-1234")
    monkeypatch.setenv("HF_TOKEN", "hf_fake_token_5678")
    result = tools.call("python", "import json, os\nprint(json.dumps({**os.environ, 'cwd': os.getcwd()}))")
    env = json.loads(result.text.split("\n")[0])
    assert "OPENAI_API_KEY" not in env and "HF_TOKEN" not in env
    assert "sk-fake-secret" not in result.text and "hf_fake_token" not in result.text
    assert env["HOME"] == env["cwd"]
    assert set(env) - {"cwd"} <= {"PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "HOME", "TMPDIR",
                                   "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                   "MPLBACKEND"}


def test_cwd_is_a_fresh_directory_removed_afterwards(tools: Toolset) -> None:
    code = "import os\nprint(os.getcwd())\nprint(os.listdir('.'))\nopen('note.txt', 'w').write('x')\n"
    first = tools.call("python", code).text.split("\n")
    second = tools.call("python", code).text.split("\n")
    assert first[1] == "[]" and second[1] == "[]"  # empty, and the note of the first call is gone
    assert first[0] != second[0]
    assert not Path(first[0]).exists() and not Path(second[0]).exists()


def test_large_files_are_refused() -> None:
    tools = Toolset([PythonTool(timeout_s=TIMEOUT, file_mb=1)])
    result = tools.call("python", "open('big', 'wb').write(b'x' * (2 * 1024 * 1024))")
    assert "File too large" in result.text and result.text.endswith("[exit status 1]")


def test_network_is_cut_where_the_os_allows(tool: PythonTool, tools: Toolset) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        code = (f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
                f"    print('connected')\nexcept OSError as exc:\n    print('blocked', exc.errno)\n")
        text = tools.call("python", code).text
    if not tool.sandbox.containment.network_cut:
        assert "connected" in text
        assert "Network access could not be disabled" in tool.description
        pytest.skip("this OS does not let the sandbox cut the network; the description says so")
    assert text.startswith("blocked")
    assert "Internet access for this session is disabled." in tool.description


def test_description_tells_the_model_how_the_tool_behaves(tool: PythonTool) -> None:
    assert tool.builtin and tool.name == "python"
    assert "stateless" in tool.description and "print()" in tool.description
    assert f"time out after {TIMEOUT:g} seconds" in tool.description
    (func,) = tool.functions()
    assert func.recipient == "python" and func.freeform


def test_empty_code_and_json_wrapped_code(tools: Toolset) -> None:
    assert tools.call("python", "  \n").error == "tool_error"
    assert tools.call("python", json.dumps({"code": "print(5)"})).text == "5\n[exit status 0]"


def test_plain_fallback_still_kills_the_process_group(marker: str) -> None:
    limits = Limits(timeout_s=TIMEOUT)
    plain = probe(limits, (Setup(),))  # no namespaces, no user change: what macOS gets
    tools = Toolset([PythonTool(timeout_s=TIMEOUT, containment=plain, unsafe=True)])
    code = f"import os\nif os.fork() == 0:\n    os.execv('/bin/sleep', ['sleep', '{marker}'])\nwhile True:\n    pass\n"
    assert tools.call("python", code).error == "timeout"
