"""`harness models prepare`: builds what is missing, prints one path per GGUF, rebuilds nothing twice."""
from __future__ import annotations

from pathlib import Path

from cli_runner import harness


def test_second_prepare_rebuilds_nothing(tmp_path):
    args = ["models", "prepare", "model=synthetic-tiny", "model.quant=F16,Q8_0", f"model.cache_dir={tmp_path}"]
    first = harness(*args)
    assert first.returncode == 0, first.stderr
    paths = [Path(p) for p in first.stdout.split()]
    assert [p.name for p in paths] == ["synthetic-tiny-F16.gguf", "synthetic-tiny-Q8_0.gguf"]
    assert all(p.is_file() and p.parent.parent == tmp_path for p in paths)
    assert "building" in first.stderr and "quantizing" in first.stderr
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.gguf")}

    second = harness(*args)
    assert second.returncode == 0 and second.stdout == first.stdout
    assert "building" not in second.stderr and "quantizing" not in second.stderr
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.gguf")} == stamps
    assert not list(tmp_path.rglob("*.tmp*"))


def test_prepare_refuses_an_unknown_quant_in_one_line(tmp_path):
    r = harness("models", "prepare", "model=synthetic-tiny", "model.quant=Q7_Z", f"model.cache_dir={tmp_path}")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Q7_Z" in r.stderr
    assert not list(tmp_path.iterdir())
