"""Which llama.cpp ran a point: the in-process library, the managed llama-server and the tools are
one build, and rows say which (build_commit, build_number) for each backend."""
from __future__ import annotations

import pytest

from harness.backends import build_id
from harness.backends.build_id import BuildId
from harness.backends.http import HttpBackend
from harness.backends.server import release_server
from harness.records import env

BASE = ("workload=chat", "backend=http", "backend.n_ctx=512", "backend.n_batch=64", "backend.n_ubatch=64",
        "backend.n_threads=1")  # one thread: the machine runs benchmarks too


@pytest.mark.parametrize("text, want", [
    ("b11312-0c1e57098", BuildId("0c1e57098", 11312)),
    ("version: 11312 (0c1e57098)\nbuilt with GNU 12.2.0 for Linux x86_64", BuildId("0c1e57098", 11312)),
    ("version: 0.5.0-dev (build 11312, commit 0c1e57098)\nbuilt with GNU 12.2.0", BuildId("0c1e57098", 11312)),
    ("ggml_cpu_init: ...\nversion: 0 (unknown)\n", BuildId("unknown", 0)),
    ("", None), (None, None), ("llama-server 1.0", None), ("b12-", None),
])
def test_parse_reads_props_and_version_forms(text, want):
    assert build_id.parse(text) == want


def test_a_binary_that_cannot_run_has_no_id(tmp_path):
    fake = tmp_path / "llama-server"
    fake.write_text("not a program")
    assert build_id.of_binary(fake) is None
    assert build_id.of_binary(tmp_path / "missing") is None


def test_in_process_rows_carry_the_library_build():
    found = build_id.in_process()
    assert found.commit == build_id.library_commit()
    cols = env.row_columns()
    assert (cols["build_commit"], cols["build_number"]) == (found.commit, found.number)


def test_every_backend_runs_one_llama_cpp(tiny_cfg, tiny_model, binary):
    """In-process library, managed server (/props) and its binary (--version): one commit, one number."""
    lib = build_id.in_process()
    assert lib.commit != build_id.UNKNOWN_COMMIT, "the library was built without its commit"
    assert build_id.of_binary(binary) == lib
    backend = HttpBackend(tiny_cfg(*BASE).backend, tiny_model)
    try:
        backend.start()
        info = backend.info()
    finally:
        backend.stop()
        release_server()
    assert (info["build_commit"], info["build_number"]) == (lib.commit, lib.number)
    assert build_id.parse(info["server_build_info"]) == lib


def test_a_server_that_does_not_say_is_unknown(tiny_cfg):
    """An external server without build_info: unknown, never the in-process library's id."""
    backend = HttpBackend(tiny_cfg("backend=http_external", "backend.url=http://127.0.0.1:9").backend, None)
    assert backend._build_id({"total_slots": 1}) == BuildId()
    assert backend._build_id(None) == BuildId()
    assert backend._build_id({"build_info": "b7-abc1234"}) == BuildId("abc1234", 7)
