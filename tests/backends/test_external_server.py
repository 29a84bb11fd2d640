"""backend=http_external against an OpenAI-compatible server that is not llama-server:
llama-cpp-python's own server (its [server] extra), started here on loopback."""
from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pandas as pd
import pytest
from cli_runner import harness

# llama-cpp-python's server started for the module, benches against it: make test-slow
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(tiny_model, tmp_path_factory):
    port = _free_port()
    log = (tmp_path_factory.mktemp("llama-cpp-python-server") / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(tiny_model),
                             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "1024", "--n_threads", "1"],
                            stdout=log, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"llama-cpp-python server exited; see {log.name}"
            try:
                if httpx.get(url + "/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "llama-cpp-python server did not come up"
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    assert proc.poll() is not None


@pytest.mark.parametrize("endpoint", ["v1_completions", "v1_chat"])
def test_chat_against_llama_cpp_python_server(server_url, tmp_path, endpoint):
    r = harness("bench", "model=synthetic-tiny", "backend=http_external", f"backend.url={server_url}",
                f"backend.endpoint={endpoint}", "workload=chat", "workload.max_prompts=2", "workload.max_tokens=8",
                "workload.repetitions=1", f"hydra.run.dir={tmp_path}")
    assert r.returncode == 0, r.stderr[-2000:]
    df = pd.read_csv(tmp_path / "results.csv")
    assert (df.status == "ok").all() and (df.backend == "http_external").all()
    assert ((df.n_gen >= 1) & (df.n_gen <= 8)).all()
    assert (df.ttft_ms <= df.e2e_ms).all() and (df.avg_ts > 0).all()


def test_an_endpoint_the_server_lacks_is_unsupported(server_url, tmp_path):
    r = harness("bench", "model=synthetic-tiny", "backend=http_external", f"backend.url={server_url}",
                "backend.endpoint=completion", "workload=chat", "workload.max_prompts=1", "workload.max_tokens=4",
                "workload.repetitions=1", f"hydra.run.dir={tmp_path}")
    df = pd.read_csv(tmp_path / "results.csv", keep_default_na=False)
    assert r.returncode == 0 and (df.status == "unsupported").all()
