"""`harness import-llama-bench FILE [--out RUN_DIR]`: llama-bench's output (-o json, jsonl, csv or md)
as a run folder of our schema (results.csv, samples.jsonl, env.json) that report, compare and gate
read like any run of ours.

llama-bench's field names are ours where the meaning is the same; the rest is derived: backend is
`llama-bench`, workload `pp_tg`, test named as our pp_tg names it, quant from the model type (else
the file name), accel from `backends`. md output carries only the columns it shows (model, size,
params, backend, threads, test, "t/s" as mean ± stddev, and the settings that left their default),
so what it omits is llama-bench's default, or unknown (left empty).
"""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

from harness.metrics.stats import describe
from harness.records import writer
from harness.records.env import accel_of
from harness.workloads.pp_tg import Case

FORMATS = ("json", "jsonl", "csv", "md")
# md header -> llama-bench field (llama-bench's markdown_printer display names)
MD_FIELDS = {"model": "model_type", "size": "model_size", "params": "model_n_params", "backend": "backends",
             "ngl": "n_gpu_layers", "threads": "n_threads", "fa": "flash_attn", "lm": "load_mode", "mmap": "use_mmap",
             "n_batch": "n_batch", "n_ubatch": "n_ubatch", "type_k": "type_k", "type_v": "type_v", "test": "test",
             "t/s": "t/s"}
MD_DEFAULTS = {"n_batch": "2048", "n_ubatch": "512", "type_k": "f16", "type_v": "f16"}  # shown only when changed
COPIED = ("model_type", "model_size", "model_n_params", "n_batch", "n_ubatch", "n_threads", "type_k", "type_v",
          "n_gpu_layers", "n_prompt", "n_gen", "n_depth", "test_time", "avg_ns", "stddev_ns", "avg_ts", "stddev_ts",
          "cpu_info", "gpu_info", "backends", "build_commit")
QUANT_NAMES = {"MXFP4 MoE": "MXFP4_MOE", "all F32": "F32", "Q2_K - Medium": "Q2_K", "IQ3_S mix": "IQ3_M"}
SIZE_TOKEN = re.compile(r"[-._](q\d\w*|iq\d\w*|tq\d\w*|mxfp4\w*|bf16|f16|f32)$", re.IGNORECASE)
UNITS = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}


class LlamaBenchFormatError(ValueError):
    """The file is not llama-bench output this importer understands (one line, for the user)."""


def detect(text: str) -> str:
    head = text.lstrip()
    if head.startswith("["):
        return "json"
    if head.startswith("{"):
        return "jsonl"
    if head.startswith("|"):
        return "md"
    if head.split("\n", 1)[0].replace('"', "").startswith("build_commit,"):
        return "csv"
    raise LlamaBenchFormatError("not llama-bench output: expected what `llama-bench -o json|jsonl|csv|md` prints")


def _records_md(text: str) -> list[dict[str, Any]]:
    rows = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in text.splitlines()
            if ln.strip().startswith("|")]
    if len(rows) < 2 or "t/s" not in rows[0] or "test" not in rows[0]:
        raise LlamaBenchFormatError("md table without the `test` and `t/s` columns llama-bench prints")
    header = [MD_FIELDS.get(h, h) for h in rows[0]]
    recs = []
    for cells in rows[1:]:
        if all(set(c) <= set("-:") for c in cells):
            continue  # the |---|---:| line
        rec: dict[str, Any] = {**MD_DEFAULTS, **dict(zip(header, cells))}
        m = re.fullmatch(r"(?:pp(\d+))?\+?(?:tg(\d+))?(?: @ d(\d+))?", rec.pop("test"))
        ts = re.fullmatch(r"([\d.]+)\s*±\s*([\d.]+)", rec.pop("t/s"))
        if not m or not ts:
            raise LlamaBenchFormatError(f"md row not understood: {'|'.join(cells)}")
        rec.update(n_prompt=int(m[1] or 0), n_gen=int(m[2] or 0), n_depth=int(m[3] or 0),
                   avg_ts=float(ts[1]), stddev_ts=float(ts[2]))
        for field in ("model_size", "model_n_params"):
            num, _, unit = rec.get(field, "").partition(" ")
            rec[field] = round(float(num) * UNITS[unit]) if unit in UNITS else ""
        recs.append(rec)
    build = re.search(r"^build: (\S+) \((\d+)\)", text, re.MULTILINE)  # the line under the table
    return [{**r, "build_commit": build[1], "build_number": int(build[2])} for r in recs] if build else recs


def records(text: str, fmt: str) -> list[dict[str, Any]]:
    """llama-bench's records (its field names) from output in one of FORMATS."""
    recs: list[dict[str, Any]]
    try:
        if fmt == "json":
            recs = json.loads(text)
        elif fmt == "jsonl":
            recs = [json.loads(ln) for ln in text.splitlines() if ln.strip()]
        elif fmt == "csv":
            recs = list(csv.DictReader(io.StringIO(text)))
        else:
            recs = _records_md(text)
    except json.JSONDecodeError as exc:
        raise LlamaBenchFormatError(f"{fmt} output that does not parse: {exc}") from None
    if not recs or not all(isinstance(r, dict) and "avg_ts" in r for r in recs):
        raise LlamaBenchFormatError(f"{fmt} output without test records (no avg_ts)")
    return recs


def quant_of(model_type: str, filename: str = "") -> str:
    """Our quant name from llama.cpp's file-type name in model_type ('gpt-oss 20B MXFP4 MoE'), else
    from the file name ('...-Q4_K_M.gguf')."""
    ftype = model_type.split(" ", 2)[2].removesuffix(" (guessed)") if model_type.count(" ") >= 2 else ""
    if ftype:
        for name, quant in QUANT_NAMES.items():
            if ftype.startswith(name):
                return quant
        m = re.fullmatch(r"(\w+?)(?: - (Small|Medium|Large))?(?: - [\d.]+ bpw.*)?", ftype)
        if m:
            return m[1] + (f"_{m[2][0]}" if m[2] else "")
    m = SIZE_TOKEN.search(Path(filename).stem)
    return m[1].upper().replace("MXFP4", "MXFP4_MOE") if m else ""


def model_name_of(model_type: str, filename: str) -> str:
    """'synthetic-small' from 'synthetic-small-Q8_0.gguf'; without a file name 'gpt-oss-20b' from the
    model type 'gpt-oss 20B MXFP4 MoE'."""
    if filename:
        return SIZE_TOKEN.sub("", Path(filename).stem)
    arch, _, rest = model_type.partition(" ")
    size = rest.split(" ", 1)[0]
    return f"{arch}-{size.lower()}" if size and "?" not in size else arch


def _flag(value: Any) -> str:
    return {"true": "1", "false": "0"}.get(str(value).lower(), str(value))


def _row(rec: dict[str, Any], run_id: str, point: int, model_name: str | None) -> dict[str, Any]:
    path = str(rec.get("model_filename", ""))
    n_prompt, n_gen, n_depth = (int(rec.get(k) or 0) for k in ("n_prompt", "n_gen", "n_depth"))
    row = {k: rec[k] for k in COPIED if k in rec}
    accel = accel_of(str(rec.get("backends", "")).split(","))
    row.update(run_id=run_id, point=point, test=Case(n_prompt, n_gen, n_depth).name, status="ok",
               backend="llama-bench", mode="raw", workload="pp_tg",
               model_name=model_name or model_name_of(str(rec.get("model_type", "")), path),
               quant=quant_of(str(rec.get("model_type", "")), path), model_filename=Path(path).name,
               model_path=path if "/" in path or "\\" in path else "", accel=accel,
               device=rec.get("gpu_info", "") if accel != "cpu" else rec.get("cpu_info", ""),
               flash_attn={"-1": "auto", "0": "off", "1": "on"}.get(_flag(rec.get("flash_attn", "")), ""))
    load_mode = str(rec.get("load_mode", ""))
    if "use_mmap" in rec:  # llama-bench before load_mode
        row["use_mmap"] = _flag(rec["use_mmap"]) == "1"
        row["load_mode"] = "mmap" if row["use_mmap"] else "none"
    elif load_mode and load_mode != "auto":  # auto: resolved per device inside llama.cpp, unknown here
        row.update(load_mode=load_mode, use_mmap=load_mode in ("mmap", "mmap+mlock"))
    samples = rec.get("samples_ts")
    if isinstance(samples, list) and samples:
        row.update(repetitions=len(samples), ci95_ts=describe(samples).ci95)
    return row


def import_file(src: Path, out: Path, model_name: str | None = None) -> Path:
    """Write out/results.csv, samples.jsonl and env.json from llama-bench output in `src`."""
    try:
        text = src.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise LlamaBenchFormatError(f"cannot read {src}: {exc.__class__.__name__}") from None
    fmt = detect(text)
    recs = records(text, fmt)
    if (out / writer.RESULTS).exists():
        raise LlamaBenchFormatError(f"{out} already holds a results.csv; give a new --out folder")
    out.mkdir(parents=True, exist_ok=True)
    rows = [_row(r, out.name, i, model_name) for i, r in enumerate(recs)]
    writer.append_rows(out, rows)
    for i, (rec, row) in enumerate(zip(recs, rows)):
        if isinstance(rec.get("samples_ns"), list):
            writer.append_samples(out, {"run_id": out.name, "point": i, "test": row["test"],
                                        "samples_ns": rec["samples_ns"], "samples_ts": rec.get("samples_ts", [])})
    first = rows[0]
    constant = {k: v for k, v in recs[0].items() if k not in COPIED and not isinstance(v, list)
                and all(r.get(k) == v for r in recs)}
    writer.write_json(out / "env.json", {
        "source": "llama-bench", "imported_from": src.name, "format": fmt,
        **{k: first.get(k, "") for k in ("cpu_info", "gpu_info", "device", "accel", "backends", "build_commit")},
        "llama_bench": constant})
    return out
