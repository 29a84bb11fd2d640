"""`make bench-micro` (pytest-benchmark with a saved-run comparison) and the example CI workflow."""
from __future__ import annotations

import subprocess

import yaml
from cli_runner import ROOT


def test_bench_micro_saves_and_compares_with_the_last_run():
    r = subprocess.run(["make", "-n", "bench-micro", "VENV=/nonexistent/venv"], cwd=ROOT, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    recipe = r.stdout[r.stdout.index("machine=$("):]
    for part in ("test_bench_sse.py", "test_bench_harmony.py", "test_bench_writer.py", "--benchmark-enable",
                 "--benchmark-autosave", "--benchmark-compare --benchmark-compare-fail=mean:25%",
                 "ls .benchmarks/$machine/*.json"):
        assert part in recipe, part
    assert ".benchmarks/" in (ROOT / ".gitignore").read_text()


def test_ci_example_benches_gates_uploads_and_summarises_per_accelerator():
    wf = yaml.safe_load((ROOT / "docs" / "ci" / "github-actions-bench.yml").read_text())
    job = wf["jobs"]["bench"]
    assert {m["accel"] for m in job["strategy"]["matrix"]["include"]} == {"metal", "cuda"}
    assert all("self-hosted" in m["runner"] for m in job["strategy"]["matrix"]["include"])
    script = "\n".join(s.get("run", "") for s in job["steps"])
    assert "make bench ACCEL=${{ matrix.accel }}" in script
    assert "harness gate --baseline results/baselines/${{ matrix.machine }}/" in script
    assert "GITHUB_STEP_SUMMARY" in script and "exit $status" in script
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"].startswith("always()")
    assert "github-actions-bench.yml" in (ROOT / "docs" / "BENCHMARKS.md").read_text()
