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


def A(name: str, type_: str, doc: str) -> Column:
    """A column only agent rows fill."""
    return Column(name, type_, f"agent: {doc}", only="agent")


COLUMNS: tuple[Column, ...] = (
    C("run_id", "str", "sweep (or run) folder name"),
    C("point", "int", "index of the sweep point (Hydra job number)"),
    C("test", "str", "test name: pp512, tg128, pp512+tg128, with ' @ d<D>' for a depth"),
    C("status", "str", "ok, failed, crashed (llama.cpp's process died: a signal or the OOM killer) or unsupported"),
    C("error", "str", "why the point failed or crashed (one line: the signal, llama.cpp's last log lines, a remedy)"),
    C("backend", "str", "inprocess"),
    C("mode", "str", "raw or harmony (pp_tg uses random tokens in either)"),
    C("workload", "str", "pp_tg, chat, load, agent or kld"),
    C("model_name", "str", "preset name, e.g. synthetic-small"),
    C("quant", "str", "quantization of the model file, e.g. Q4_K_M"),
    C("model_filename", "str", "GGUF file name", True),
    C("model_path", "str", "GGUF path as loaded where the run ran (report and compare read the roofline from it)"),
    C("model_type", "str", "llama.cpp's model description", True),
    C("model_size", "int", "model size in bytes", True),
    C("model_n_params", "int", "parameter count", True),
    C("n_ctx", "int", "context size"),
    C("n_batch", "int", "logical batch size", True),
    C("n_ubatch", "int", "physical batch size", True),
    C("n_threads", "int", "CPU threads used", True),
    C("cpu_mask", "str", "CPUs pinned to, hex mask (0x0: not pinned)", True),
    C("type_k", "str", "K cache type", True),
    C("type_v", "str", "V cache type", True),
    C("n_gpu_layers", "int", "layers offloaded to the GPU", True),
    C("flash_attn", "str", "auto, on or off (llama-bench: 0/1)", True),
    C("use_mmap", "bool", "model memory-mapped", True),
    C("repack", "bool", "llama.cpp's CPU extra buffer types (weight repacking, AMX) on; never 'auto' in a row", True),
    C("load_mode", "str", "llama.cpp load mode: none, mmap, mlock, mmap+mlock, dio"),
    C("n_cpu_moe", "int", "layers whose MoE experts stay on the CPU (-ncmoe; inprocess, http)", True),
    C("tensor_buft_overrides", "str", "tensor overrides PATTERN=BUFFER_TYPE;... (-ot), none without (inprocess, http)",
      True),
    C("no_kv_offload", "bool", "KV cache kept in host memory (-nkvo; inprocess, http)", True),
    C("split_mode", "str", "none, layer or row: how the model spreads over GPUs (-sm; inprocess, http)", True),
    C("main_gpu", "int", "the GPU of split_mode=none and of row's intermediate results (-mg; inprocess, http)", True),
    C("tensor_split", "str", "proportions per GPU as 3.00/1.00, 0.00 for llama.cpp's default (-ts; inprocess, http)",
      True),
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
    C("cv_ts", "float", "coefficient of variation of the per-repetition tokens/s: stddev_ts / avg_ts (a row above "
      "the CV limit, 5% by default, is flagged unstable)"),
    C("reasoning_effort", "str", "Harmony reasoning effort (mode=harmony)", only="harmony"),
    C("prompt_tokens", "int", "chat: prompt tokens as sent (Harmony system/developer overhead shows here)",
      only="chat, agent"),
    C("render_ms", "float", "chat: time to render (harmony) or tokenize (raw) the prompt, ms", only="chat"),
    C("parse_ms", "float", "chat: time spent in the streaming Harmony parser per request, ms", only="chat"),
    C("overhead_pct", "float", "chat: (render_ms + parse_ms) / e2e_ms, percent", only="chat"),
    C("ttft_ms", "float", "chat: time to the first generated token, ms (mean over repetitions; agent: over the "
      "turns)", only="chat, agent"),
    C("ttft_final_ms", "float", "chat: time to the first final-channel token, ms (empty if none; agent: mean over "
      "the turns that have one)", only="chat, agent"),
    C("e2e_ms", "float", "chat: request start to last token, ms", only="chat, agent"),
    C("itl_ms", "float", "chat: mean inter-token latency, ms", only="chat"),
    C("itl_p50_ms", "float", "chat: median inter-token latency, ms", only="chat"),
    C("itl_p90_ms", "float", "chat: 90th percentile inter-token latency, ms", only="chat"),
    C("itl_p99_ms", "float", "chat: 99th percentile inter-token latency, ms", only="chat"),
    C("stop_reason", "str", "chat: stop (a stop token) or length (max_tokens), the most common", only="chat, agent"),
    C("tokens_analysis", "float", "chat: generated tokens on the analysis channel (mean)", only="chat"),
    C("tokens_commentary", "float", "chat: generated tokens on the commentary channel (mean)", only="chat"),
    C("tokens_final", "float", "chat: generated tokens on the final channel (mean)", only="chat"),
    *(C(f"dev_{k}", "int", f"chat, agent: Harmony parse deviations: {d}", only="chat, agent")
      for k, d in DEVIATION_DOCS.items()),
    A("level", "str", "trial (one task x trial), task (over its trials) or suite (over the tasks)"),
    A("task_id", "str", "the task's id (test is task_id#trial for a trial row)"),
    A("trial", "int", "trial number (trial rows)"),
    A("trials", "int", "trials per task (the k of pass@k and pass^k)"),
    A("success", "float", "1/0 for a trial; the mean success rate for a task or the suite"),
    A("pass_at_1", "float", "pass@1, unbiased from n trials and c successes (mean over tasks)"),
    A("pass_at_k", "float", "pass@k for k = trials: at least one of k trials succeeds"),
    A("pass_hat_k", "float", "pass^k for k = trials: all k trials succeed (tau-bench)"),
    A("infra_errors", "int", "trials lost to a harness or backend error (left out of success)"),
    A("verdict", "str", "pass, or why the verifiers failed the trial"),
    A("turns", "float", "completions in the episode (mean for task/suite rows)"),
    A("tool_calls", "int", "tool calls made"),
    A("invalid_calls", "int", "calls to an unknown tool, with invalid JSON or schema-violating arguments"),
    A("valid_call_rate", "float", "(tool_calls - invalid_calls) / tool_calls"),
    A("python_containment", "str", "the python tool's containment level in force (e.g. fs+net+pid+mem+procs; "
      "tasks that offer python)"),
    A("call_errors", "str", "JSON of call errors by kind (unknown_tool, invalid_json, invalid_args, "
      "tool_error, timeout)"),
    A("model_ms", "float", "time in the model (all turns' completions), ms"),
    A("cached_share", "float", "share of the prompt tokens the server took from its prompt cache: cache_n / "
      "prompt_tokens (http; every turn resends the history)"),
    A("tool_ms", "float", "time in the tools, ms"),
    C("kld_mean", "float", "kld: mean KL divergence KL(base ‖ quant) of the next-token distributions per scored "
      "token, nats (llama-perplexity's Mean KLD)", only="kld"),
    C("kld_p99", "float", "kld: 99th percentile of the per-token KL divergence, nats", only="kld"),
    C("top1_agree", "float", "kld: share of scored tokens where the quant's most likely next token is the base's "
      "(llama-perplexity's Same top p)", only="kld"),
    C("ppl", "float", "kld: perplexity of the quant on the scored tokens", only="kld"),
    C("ppl_base", "float", "kld: perplexity of the base quant on the same tokens", only="kld"),
    C("ppl_ratio", "float", "kld: ppl / ppl_base, exp of the mean log ratio", only="kld"),
    C("n_tokens", "int", "kld: tokens scored (the second half of each n_ctx chunk, as llama-perplexity)", only="kld"),
    C("load_s", "float", "model load time, s (0 reuse: the time of the load that is reused)"),
    C("model_reused", "bool", "the model stayed loaded from the previous point"),
    C("peak_rss_mb", "float", "peak resident memory of the process that ran the point (in-process: its worker), MiB"),
    C("mem_model_mb", "float", "model weight buffers llama.cpp allocated at load, all buffer types, MiB "
      "(inprocess, http: from its log)"),
    C("mem_kv_mb", "float", "KV cache buffers (every cache: SWA models have two), all buffer types, MiB"),
    C("mem_compute_mb", "float", "compute buffers (the scheduler's reserve) + the logits output buffer, MiB"),
    C("mem_by_buft", "str", "the same per buffer type: BUFT:kind=MiB,...;... e.g. "
      "CPU:kv=8.00,output=0.77,compute=300.10;CPU_Mapped:model=210.02 (kinds model, kv, output, compute)"),
    C("gpu_mem_used_mb", "float", "GPU memory in use after load, MiB: NVIDIA all GPUs and processes (NVML, "
      "nvidia-ml-py installed), Apple the Metal working set llama.cpp logs; empty elsewhere", only="NVIDIA, Metal"),
    C("other_cpu_pct", "float", "CPU time other processes took while the test ran, % of all CPUs' time (/proc/stat "
      "less the running process and its children; empty where unreadable)"),
    C("load_avg", "float", "1-minute load average as the test ended"),
    C("cpu_mhz_start", "float", "mean current CPU frequency as the test started, MHz (empty where unreadable)"),
    C("cpu_mhz_end", "float", "mean current CPU frequency as the test ended, MHz (empty where unreadable)"),
    C("bytes_per_token", "int", "tg: weight + KV bytes read per generated token (active experts only; from the GGUF)",
      only="tg, at report"),
    C("mem_bw_gbs", "float", "tg: memory bandwidth of the device, GB/s (CPU copy benchmark, known device or given)",
      only="tg, at report"),
    C("roofline_pct", "float", "tg: avg_ts as a percentage of the bandwidth bound mem_bw_gbs / bytes_per_token",
      only="tg, at report"),
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
    C("cache_prompt", "bool", "http: the requests reuse the server's prompt cache (llama-server's cache_prompt; "
      "unset: on only for pp_tg at a depth)", only="http"),
    C("cache_n", "float", "http: prompt tokens the server took from its cache (timings.cache_n): pp_tg: per timed "
      "request (= n_depth at a depth); agent: over the turns", only="http"),
    C("server_slots", "int", "http: the server's slots (-np)", only="http"),
    C("server_model_path", "str", "http: the model file the server reports", only="http"),
    C("server_build_info", "str", "http: the server's build string", only="http"),
    C("server_log_tail", "str", "http: the last lines of the server log when a point failed", only="http"),
    C("host", "str", "host name of the machine that ran the point (shards of many hosts merge)"),
    C("os", "str", "operating system and release"),
    C("cpu_info", "str", "CPU model", True),
    C("cpu_features", "str",
      "CPU features that pick llama.cpp's kernels (AMX, AVX-512 variants, AVX2, NEON, SVE, ...)"),
    C("gpu_info", "str", "GPU model(s), empty when none", True),
    C("device", "str", "the device llama.cpp computes on: the GPU, or the CPU for accel=cpu"),
    C("device_mem_mb", "int", "memory of that device, MiB (CPU and Apple unified memory: RAM total)"),
    C("accel", "str", "accelerator backend of the llama.cpp build: cpu, metal, cuda, vulkan"),
    C("backends", "str", "llama.cpp compute backends seen in its system info", True),
    C("system_info", "str", "llama.cpp's system-info string (CPU features, GPU backends)"),
    C("llama_cpp_python", "str", "llama-cpp-python version (pins the llama.cpp tree)"),
    C("build_commit", "str", "llama.cpp commit of the build that ran the point (in-process: the loaded library; "
      "http: the server's)", True),
    C("build_number", "int", "llama.cpp build number of that build (release bNNNN; 0 when the build did not know it)",
      True),
    C("harness_version", "str", "harness package version"),
    C("harness_commit", "str", "git commit of the harness (+dirty)"),
)
NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
OFFLOAD_LEGACY = {k: (v, ("inprocess", "http")) for k, v in (  # the offload axes, llama-bench's defaults
    ("n_cpu_moe", "0"), ("tensor_buft_overrides", "none"), ("no_kv_offload", "False"), ("split_mode", "layer"),
    ("main_gpu", "0"), ("tensor_split", "0.00"))}
# Configuration columns added later: the value rows written before them were run with (llama.cpp's
# default then) and the backends it applies to.
LEGACY_VALUES: dict[str, tuple[str, tuple[str, ...]]] = {"repack": ("True", ("inprocess", "http")),
                                                        "cache_prompt": ("False", ("http",)),
                                                        **OFFLOAD_LEGACY}
FAILED = ("failed", "crashed")  # statuses of a point that did not finish: it runs again on resume, exit status 1
# The configuration of a point: rows of two runs are the same point when these agree (gate, compare).
CONFIG_KEYS: tuple[str, ...] = (
    "model_name", "quant", "backend", "mode", "workload", "test", "n_ctx", "n_batch", "n_ubatch", "n_threads",
    "cpu_mask", "type_k", "type_v", "n_gpu_layers", "flash_attn", "load_mode", "repack", "reasoning_effort",
    "cache_prompt", *OFFLOAD_LEGACY)


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
