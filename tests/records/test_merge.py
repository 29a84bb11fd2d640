"""Shard merging: every point once (the newest shard of a configuration wins), shards found at any
depth (several hosts' sweep folders copied into one), each shard's env.json kept."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from harness.records import merge, writer


def shard(sweep: Path, job: int, key: str | None, status: str = "ok", host: str = "a", test: str = "pp8") -> Path:
    out = sweep / "jobs" / str(job)
    out.mkdir(parents=True)
    writer.append_rows(out, [{"run_id": sweep.name, "point": job, "test": test, "status": status, "host": host}])
    writer.append_samples(out, {"run_id": sweep.name, "host": host, "point": job, "test": test, "samples_ns": [job]})
    writer.write_json(out / merge.ENV, {"host": host, "pid": 1000 + job, "accel": "cpu"})
    if key is not None:
        writer.write_json(out / merge.POINT, {"key": key, "config": {}})
    return out


def rows(csv: Path) -> pd.DataFrame:
    return pd.read_csv(csv, dtype=str, keep_default_na=False)


def test_a_rerun_point_supersedes_its_earlier_shard_and_every_point_is_merged_once(tmp_path):
    shard(tmp_path, 0, "k0")
    shard(tmp_path, 1, "k1", status="failed")
    shard(tmp_path, 2, None)                 # an older shard without point.json counts as its own point
    shard(tmp_path, 10, "k1")                # job numbers above 9: ordered as numbers, not text
    shard(tmp_path, 3, "k3")
    out = merge.merge(tmp_path)
    df = rows(out)
    assert list(df.point) == ["0", "2", "3", "10"] and set(df.status) == {"ok"}
    samples = [json.loads(line)["point"] for line in (tmp_path / writer.SAMPLES).read_text().splitlines()]
    assert samples == [0, 2, 3, 10]
    assert (tmp_path / "jobs" / "1" / writer.RESULTS).exists()  # superseded, not deleted


def test_sweep_folders_of_several_hosts_copied_into_one_merge_and_keep_their_environments(tmp_path):
    for host in ("mac", "cuda-box"):
        for job in range(3):
            shard(tmp_path / host / "sweep", job, f"k{job}", host=host)  # same configurations on both
    df = rows(merge.merge(tmp_path))
    assert len(df) == 6 and sorted(set(df.host)) == ["cuda-box", "mac"]
    assert sorted(df.groupby("host").point.apply(list).to_dict().items()) == [
        ("cuda-box", ["0", "1", "2"]), ("mac", ["0", "1", "2"])]
    envs = merge.environments(tmp_path)
    assert sorted(e["host"] for e in envs) == ["cuda-box", "mac"] and all("pid" not in e for e in envs)
    assert merge.shards(tmp_path / "mac" / "sweep", nested=False) == sorted(
        (tmp_path / "mac" / "sweep" / "jobs").iterdir(), key=lambda p: int(p.name))


def test_no_shards_merges_nothing(tmp_path):
    assert merge.merge(tmp_path) is None and not (tmp_path / writer.RESULTS).exists()
