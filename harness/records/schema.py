"""The one schema of result columns, for every output format (CSV, JSONL, markdown).

llama-bench's names are used where the meaning is the same, so rows sit beside theirs.
`python -m harness.records.schema [--update docs/BENCHMARKS.md]` prints (or rewrites) the table
docs/BENCHMARKS.md carries.
"""
from __future__ import annotations

from dataclasses import dataclass

from harness.harmony.parse import DEVIATION_DOCS


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    doc: str
    llama_bench: bool = False
    only: str = ""  # filled only for this workload or mode ("chat", "harmony"); else always


C = Column
COLUMNS: tuple[Column, ...] = (
    C("run_id", "str", "sweep (or run) folder name"),
    C("point", "int", "index of the sweep point (Hydra job number)"),
    C("test", "str", "test name: pp512, tg128, pp512+tg128, with ' @ d<D>' for a depth"),
    C("status", "str", "ok, failed or unsupported"),
    C("error", "str", "why the point failed (one line)"),
    C("backend", "str", "inprocess"),
    C("mode", "str", "raw or harmony (pp_tg uses random tokens in either)"),
    C("workload", "str", "pp_tg or chat"),
    C("model_name", "str", "preset name, e.g. synthetic-small"),
    C("quant", "str", "quantization of the model file, e.g. Q4_K_M"),
    C("model_filename", "str", "GGUF file name", True),
    C("model_type", "str", "llama.cpp's model description", True),
    C("model_size", "int", "model size in bytes", True),
    C("model_n_params", "int", "parameter count", True),
    C("n_ctx", "int", "context size"),
    C("n_batch", "int", "logical batch size", True),
    C("n_ubatch", "int", "physical batch size", True),
    C("n_threads", "int", "CPU threads used", True),
    C("type_k", "str", "K cache type", True),
    C("type_v", "str", "V cache type", True),
    C("n_gpu_layers", "int", "layers offloaded to the GPU", True),
    C("flash_attn", "str", "auto, on or off (llama-bench: 0/1)", True),
    C("use_mmap", "bool", "model memory-mapped", True),
    C("load_mode", "str", "llama.cpp load mode: none, mmap, mlock, mmap+mlock, dio"),
    C("n_prompt", "int", "prompt tokens of the test", True),
    C("n_gen", "int", "generated tokens of the test", True),
    C("n_depth", "int", "tokens in the KV cache before the test (untimed)", True),
    C("repetitions", "int", "timed repetitions"),
    C("test_time", "str", "UTC time the test started (ISO 8601)", True),
    C("avg_ns", "float", "mean wall time of a repetition, ns", True),
    C("stddev_ns", "float", "sample standard deviation of avg_ns", True),
    C("avg_ts", "float", "mean of per-repetition tokens/s (chat: decode rate after the first token)", True),
    C("stddev_ts", "float", "sample standard deviation of the per-repetition tokens/s", True),
    C("ci95_ts", "float", "half width of the 95% t-interval of avg_ts"),
    C("reasoning_effort", "str", "Harmony reasoning effort (mode=harmony)", only="harmony"),
    C("prompt_tokens", "int", "chat: prompt tokens as sent (Harmony system/developer overhead shows here)", only="chat"),
    C("render_ms", "float", "chat: time to render (harmony) or tokenize (raw) the prompt, ms", only="chat"),
    C("parse_ms", "float", "chat: time spent in the streaming Harmony parser per request, ms", only="chat"),
    C("overhead_pct", "float", "chat: (render_ms + parse_ms) / e2e_ms, percent", only="chat"),
    C("ttft_ms", "float", "chat: time to the first generated token, ms (mean over repetitions)", only="chat"),
    C("ttft_final_ms", "float", "chat: time to the first final-channel token, ms (empty if none)", only="chat"),
    C("e2e_ms", "float", "chat: request start to last token, ms", only="chat"),
    C("itl_ms", "float", "chat: mean inter-token latency, ms", only="chat"),
    C("itl_p50_ms", "float", "chat: median inter-token latency, ms", only="chat"),
    C("itl_p90_ms", "float", "chat: 90th percentile inter-token latency, ms", only="chat"),
    C("itl_p99_ms", "float", "chat: 99th percentile inter-token latency, ms", only="chat"),
    C("stop_reason", "str", "chat: stop (a stop token) or length (max_tokens), the most common", only="chat"),
    C("tokens_analysis", "float", "chat: generated tokens on the analysis channel (mean)", only="chat"),
    C("tokens_commentary", "float", "chat: generated tokens on the commentary channel (mean)", only="chat"),
    C("tokens_final", "float", "chat: generated tokens on the final channel (mean)", only="chat"),
    *(C(f"dev_{k}", "int", f"chat: Harmony parse deviations: {d}", only="chat")
      for k, d in DEVIATION_DOCS.items()),
    C("load_s", "float", "model load time, s (0 reuse: the time of the load that is reused)"),
    C("model_reused", "bool", "the model stayed loaded from the previous point"),
    C("peak_rss_mb", "float", "peak resident memory of the process during the point, MiB"),
    C("concurrency", "int", "load: concurrent streaming clients", only="load"),
    C("completed_requests", "int", "load: requests that finished", only="load"),
    C("failed_requests", "int", "load: requests that failed (counted, not fatal)", only="load"),
    C("request_throughput", "float", "load: finished requests per second", only="load"),
    C("output_ts", "float", "load: generated tokens per second over all clients", only="load"),
    C("duration_s", "float", "load: wall time of the run, s", only="load"),
    C("ttft_p50_ms", "float", "chat, load: median time to first token, ms", only="chat, load"),
    C("ttft_p90_ms", "float", "chat, load: 90th percentile time to first token, ms", only="chat, load"),
    C("ttft_p99_ms", "float", "chat, load: 99th percentile time to first token, ms", only="chat, load"),
    C("e2e_p50_ms", "float", "chat, load: median request latency, ms", only="chat, load"),
    C("e2e_p90_ms", "float", "chat, load: 90th percentile request latency, ms", only="chat, load"),
    C("e2e_p99_ms", "float", "chat, load: 99th percentile request latency, ms", only="chat, load"),
    C("server_prompt_ts", "float", "http: the server's own prompt tokens/s (timings.prompt_per_second)", only="http"),
    C("server_predicted_ts", "float", "http: the server's own generated tokens/s (timings.predicted_per_second)",
      only="http"),
    C("server_n_ctx", "int", "http: the server's context size (its /props)", only="http"),
    C("server_slots", "int", "http: the server's slots (-np)", only="http"),
    C("server_model_path", "str", "http: the model file the server reports", only="http"),
    C("server_build_info", "str", "http: the server's build string", only="http"),
    C("server_log_tail", "str", "http: the last lines of the server log when a point failed", only="http"),
    C("os", "str", "operating system and release"),
    C("cpu_info", "str", "CPU model", True),
    C("gpu_info", "str", "GPU model(s), empty when none", True),
    C("accel", "str", "accelerator backend of the llama.cpp build: cpu, metal, cuda, vulkan"),
    C("backends", "str", "llama.cpp compute backends seen in its system info", True),
    C("system_info", "str", "llama.cpp's system-info string (CPU features, GPU backends)"),
    C("llama_cpp_python", "str", "llama-cpp-python version (pins the llama.cpp tree)"),
    C("build_commit", "str", "llama.cpp build identifier", True),
    C("harness_version", "str", "harness package version"),
    C("harness_commit", "str", "git commit of the harness (+dirty)"),
)
NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)


def markdown() -> str:
    lines = ["| column | type | meaning | llama-bench | filled for |", "|---|---|---|---|---|"]
    lines += [f"| `{c.name}` | {c.type} | {c.doc} | {'yes' if c.llama_bench else ''} | {c.only or 'all'} |"
              for c in COLUMNS]
    return "\n".join(lines)


def update_doc(path: str) -> None:
    """Rewrite the table between the schema markers of a markdown file."""
    from pathlib import Path
    doc = Path(path)
    text = doc.read_text()
    head, rest = text.split(START_MARK, 1)
    _, tail = rest.split(END_MARK, 1)
    doc.write_text(f"{head}{START_MARK}\n{markdown()}\n{END_MARK}{tail}")


START_MARK, END_MARK = "<!-- schema:start -->", "<!-- schema:end -->"

if __name__ == "__main__":
    import sys
    if sys.argv[1:2] == ["--update"]:
        update_doc(sys.argv[2])
    else:
        print(markdown())
