"""`harness models pull` and `models prepare --pull` against a loopback imitation of the hub's file
API (tests/hub_server.py): plain, split, interrupted and resumed, killed and resumed, corrupted,
wrong repo or file, no network, full disk, and prepare that never downloads unasked."""
from __future__ import annotations

import errno
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_runner import ROOT, harness
from hub_server import FakeHub, fake_gguf

REPO = "acme/tiny-GGUF"
MB = 1_000_000


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """A loopback hub, HF_ENDPOINT at it, a private cache and HF_HOME; nothing can reach the internet."""
    from huggingface_hub import constants
    with FakeHub() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
        monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
        for var in ("HF_TOKEN", "HF_HUB_OFFLINE", "GPT_OSS_20B_GGUF", "GPT_OSS_120B_GGUF", "HARNESS_CONFIG_DIR"):
            monkeypatch.delenv(var, raising=False)
        # in-process calls: huggingface_hub read these at import; restored after the test
        monkeypatch.setattr(constants, "ENDPOINT", server.url)
        monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
        yield server


def hub_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "models" / "hub"


def one_error(r: subprocess.CompletedProcess[str]) -> str:
    """The run failed with exit 2 and exactly one `harness: error:` line, the last one, no traceback."""
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("harness: error:")]
    assert r.returncode == 2 and len(errors) == 1 and lines[-1] == errors[0], r.stderr
    assert "Traceback" not in r.stderr
    return errors[0]


def test_plain_pull_lands_verified_in_the_cache_and_a_second_pull_fetches_nothing(hub, tmp_path):
    data = fake_gguf(3 * MB)
    hub.add(REPO, "tiny-Q8_0.gguf", data)
    r = harness("models", "pull", f"{REPO}/tiny-Q8_0.gguf")
    assert r.returncode == 0, r.stderr
    path = Path(r.stdout.strip())
    assert path == hub_dir(tmp_path) / REPO / "tiny-Q8_0.gguf" and path.read_bytes() == data
    assert "verified" in r.stderr and not list(path.parent.glob("*.incomplete"))
    asked = [(q.method, q.path) for q in hub.requests if not q.path.endswith("agent-harnesses")]
    assert asked[:2] == [("GET", f"/api/models/{REPO}/revision/main"),
                         ("POST", f"/api/models/{REPO}/paths-info/{'0123456789abcdef' * 2 + '01234567'}")]
    assert len(hub.cdn_gets()) == 1 and "Range" not in hub.cdn_gets()[0].headers

    hub.requests.clear()
    again = harness("models", "pull", f"{REPO}/tiny-Q8_0.gguf")
    assert again.returncode == 0 and again.stdout == r.stdout and "already there" in again.stderr
    assert hub.requests == []


def test_split_pull_fetches_every_part_and_names_the_first(hub, tmp_path):
    parts = {f"big-Q4_0-0000{i}-of-00002.gguf": fake_gguf(MB, seed=i) for i in (1, 2)}
    for name, data in parts.items():
        hub.add(REPO, name, data)
    hub.add(REPO, "README.md", b"# not a model\n")
    r = harness("models", "pull", f"{REPO}/big-Q4_0-00001-of-00002.gguf")
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip()) == hub_dir(tmp_path) / REPO / "big-Q4_0-00001-of-00002.gguf"
    for name, data in parts.items():
        assert (hub_dir(tmp_path) / REPO / name).read_bytes() == data
    # the part llama.cpp opens comes last, so a model is there only once it is whole
    assert [q.path.rsplit("/", 1)[-1] for q in hub.cdn_gets()] == ["big-Q4_0-00002-of-00002.gguf",
                                                                  "big-Q4_0-00001-of-00002.gguf"]


def test_interrupted_transfer_resumes_with_a_range_request(hub, tmp_path):
    data = fake_gguf(4 * MB, seed=7)
    hub.add(REPO, "tiny-F16.gguf", data)
    hub.drop_first.add("tiny-F16.gguf")
    r = harness("models", "pull", f"{REPO}/tiny-F16.gguf")
    assert r.returncode == 0, r.stderr
    first, second = hub.cdn_gets()
    cut = hub.sent_before_break["tiny-F16.gguf"]
    assert "Range" not in first.headers and second.headers["Range"] == f"bytes={cut}-"
    assert f"resuming at byte {cut}" in r.stderr
    path = Path(r.stdout.strip())
    assert hashlib.sha256(path.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    assert not list(path.parent.glob("*.incomplete"))


def test_a_killed_pull_resumes_where_it_stopped(hub, tmp_path):
    data = fake_gguf(4 * MB, seed=3)
    hub.add(REPO, "tiny-Q4_K_M.gguf", data)
    hub.stall_first.add("tiny-Q4_K_M.gguf")
    exe = Path(sys.executable).with_name("harness")
    proc = subprocess.Popen([str(exe), "models", "pull", f"{REPO}/tiny-Q4_K_M.gguf"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    folder = hub_dir(tmp_path) / REPO
    try:
        assert hub.stalled.wait(60), "the pull never reached the file's bytes"
        sizes = [-1]
        while True:  # until what reached the disk stops growing
            time.sleep(0.2)
            size = sum(p.stat().st_size for p in folder.glob("*.incomplete"))
            if size == sizes[-1] and size > 0:
                break
            sizes.append(size)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
    (partial,) = folder.glob("tiny-Q4_K_M.gguf.*.incomplete")
    kept = partial.stat().st_size
    assert 0 < kept < len(data) and not (folder / "tiny-Q4_K_M.gguf").exists()
    hub.release.set()

    r = harness("models", "pull", f"{REPO}/tiny-Q4_K_M.gguf")
    assert r.returncode == 0, r.stderr
    assert hub.cdn_gets()[-1].headers["Range"] == f"bytes={kept}-"
    assert (folder / "tiny-Q4_K_M.gguf").read_bytes() == data and not partial.exists()


def test_corrupted_transfer_is_refused_and_leaves_nothing(hub, tmp_path):
    hub.add(REPO, "tiny-Q8_0.gguf", fake_gguf(2 * MB))
    hub.corrupt.add("tiny-Q8_0.gguf")
    r = harness("models", "pull", f"{REPO}/tiny-Q8_0.gguf")
    line = one_error(r)
    assert "sha256 mismatch" in line and "tiny-Q8_0.gguf" in line and r.stdout == ""
    folder = hub_dir(tmp_path) / REPO
    assert not (folder / "tiny-Q8_0.gguf").exists() and not list(folder.glob("*.incomplete"))


@pytest.mark.parametrize("spec, words", [
    ("acme/nope-GGUF/tiny-Q8_0.gguf", ["acme/nope-GGUF", "no such model repository"]),
    (f"{REPO}/tiny-Q2_K.gguf", ["has no file tiny-Q2_K.gguf", "its GGUF files: tiny-Q8_0.gguf"]),
    (f"{REPO}/README.md", ["not a .gguf file"]),
    ("gpt-oss-7b", ["neither a preset", "REPO/FILE.gguf"]),
])
def test_wrong_repo_or_file_is_one_line(hub, tmp_path, spec, words):
    hub.add(REPO, "tiny-Q8_0.gguf", fake_gguf(MB))
    r = harness("models", "pull", spec)
    line = one_error(r)
    assert r.stderr.strip() == line and all(w in line for w in words), line
    assert not hub.cdn_gets() and not hub_dir(tmp_path).exists()


def test_no_network_is_one_line(hub, tmp_path, monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("HF_ENDPOINT", dead)
    r = harness("models", "pull", f"{REPO}/tiny-Q8_0.gguf")
    line = one_error(r)
    assert r.stderr.strip() == line and f"cannot reach the hub at {dead}" in line
    assert not hub_dir(tmp_path).exists()


def test_full_disk_is_refused_before_the_transfer(hub, tmp_path, monkeypatch, capsys):
    import shutil

    from harness.cli import main
    hub.add(REPO, "tiny-Q8_0.gguf", fake_gguf(MB))
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=1000))
    assert main(["models", "pull", f"{REPO}/tiny-Q8_0.gguf"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("harness: error: not enough disk space in "), err
    assert not hub.cdn_gets()


def test_disk_full_during_the_transfer_keeps_the_partial_for_a_resume(hub, tmp_path, monkeypatch, capsys):
    from harness.cli import main
    from harness.models import hub as hubmod
    hub.add(REPO, "tiny-Q8_0.gguf", fake_gguf(2 * MB))

    def full(remote, f, have, part):  # a write that hits ENOSPC after some bytes
        f.write(b"GGUF" * 1000)
        f.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(hubmod, "_transfer", full)
    assert main(["models", "pull", f"{REPO}/tiny-Q8_0.gguf"]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("harness: error:")]
    assert len(err) == 1 and "No space left on device" in err[0] and "resumes" in err[0]
    assert len(list((hub_dir(tmp_path) / REPO).glob("*.incomplete"))) == 1
    assert not (hub_dir(tmp_path) / REPO / "tiny-Q8_0.gguf").exists()


def test_prepare_without_pull_names_the_pull_command_and_downloads_nothing(hub, tmp_path):
    hub.add("ggml-org/gpt-oss-20b-GGUF", "gpt-oss-20b-mxfp4.gguf", fake_gguf(MB))
    r = harness("models", "prepare", "model=gpt-oss-20b")
    line = one_error(r)
    assert r.stderr.strip() == line and "`harness models pull gpt-oss-20b`" in line and "--pull" in line
    assert str(tmp_path / "cache" / "models" / "gpt-oss-20b" / "gpt-oss-20b-MXFP4_MOE.gguf") in line
    assert hub.requests == []


def test_prepare_with_pull_fetches_the_preset_where_the_preset_finds_it(hub, tmp_path):
    data = fake_gguf(MB, seed=20)
    hub.add("ggml-org/gpt-oss-20b-GGUF", "gpt-oss-20b-mxfp4.gguf", data)
    r = harness("models", "prepare", "--pull", "model=gpt-oss-20b")
    assert r.returncode == 0, r.stderr
    path = tmp_path / "cache" / "models" / "gpt-oss-20b" / "gpt-oss-20b-MXFP4_MOE.gguf"
    assert r.stdout.strip() == str(path) and path.read_bytes() == data

    hub.requests.clear()  # now the preset finds it, with no model.path and no --pull
    again = harness("models", "prepare", "model=gpt-oss-20b")
    assert again.returncode == 0 and again.stdout == r.stdout and hub.requests == []


def test_the_120b_preset_pulls_its_three_parts(hub, tmp_path, capsys):
    from harness.cli import main
    parts = [f"gpt-oss-120b-mxfp4-0000{i}-of-00003.gguf" for i in (1, 2, 3)]
    for i, name in enumerate(parts):
        hub.add("ggml-org/gpt-oss-120b-GGUF", name, fake_gguf(MB // 2, seed=i))
    assert main(["models", "pull", "gpt-oss-120b"]) == 0
    out = Path(capsys.readouterr().out.strip())
    folder = tmp_path / "cache" / "models" / "gpt-oss-120b"
    assert out == folder / "gpt-oss-120b-MXFP4_MOE-00001-of-00003.gguf"
    assert sorted(p.name for p in folder.iterdir()) == [f"gpt-oss-120b-MXFP4_MOE-0000{i}-of-00003.gguf"
                                                        for i in (1, 2, 3)]
