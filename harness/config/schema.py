"""Dataclass schemas for the Hydra config tree; YAML under harness/conf/ holds the values.

Every key a user can set or sweep is a typed field here, so Hydra rejects a wrong type or an
unknown key before any work starts. Value checks that types cannot express live in validate.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore

QUANTS = ("F16", "BF16", "Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q4_K_M", "Q4_K_S", "Q4_0",
          "Q3_K_M", "Q3_K_S", "Q2_K", "IQ4_NL", "MXFP4_MOE")
LOAD_MODES = ("none", "mmap", "mlock", "mmap+mlock", "dio")
FLASH_ATTN = ("auto", "on", "off")
KV_TYPES = ("f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "iq4_nl")
MODES = ("raw", "harmony")
EFFORTS = ("low", "medium", "high")
BACKENDS = ("inprocess", "http", "http_external", "replay", "replay_http")
REPLAY_BACKENDS = ("replay", "replay_http")  # recorded completions: no model file
ENDPOINTS = ("completion", "v1_completions", "v1_chat", "v1_responses")
SPLIT_MODES = ("none", "layer", "row")  # backend.split_mode (llama-bench -sm)
WORKLOADS = ("pp_tg", "chat", "load", "agent", "kld")


@dataclass
class ArchConfig:
    """Shape of a synthetic gpt-oss model (ignored for a model loaded from a file)."""
    n_embd: int = 64
    n_layer: int = 2
    n_head: int = 2
    n_head_kv: int = 1
    head_dim: int = 64
    n_expert: int = 4
    n_expert_used: int = 2
    n_ff_exp: int = 64
    sliding_window: int = 64
    n_ctx_train: int = 131072
    rope_freq_base: float = 150000.0
    seed: int = 0


@dataclass
class ModelConfig:
    name: str = "synthetic-tiny"
    kind: str = "synthetic"            # synthetic: built here; file: a GGUF the user has
    quant: str = "F16"
    path: str | None = None          # kind=file: the GGUF ({quant} is replaced)
    path_env: str | None = None      # kind=file: the environment variable the preset reads path from
    source_hint: str = ""               # kind=file: where such a file comes from
    cache_dir: str | None = None     # synthetic models; default ~/.cache/harness/models
    arch: ArchConfig = field(default_factory=ArchConfig)


@dataclass
class BackendConfig:
    type: str = "inprocess"
    n_ctx: int = 4096
    n_batch: int = 2048
    n_ubatch: int = 512
    use_mmap: bool = True
    load_mode: str | None = None     # none|mmap|mlock|mmap+mlock|dio; unset: from use_mmap
    n_gpu_layers: int = 99
    flash_attn: str = "auto"
    n_threads: int = 0                  # 0: the number of physical cores
    cpu_mask: str = "0x0"               # CPUs to pin to, llama-bench -C hex mask (0x0: no pinning)
    poll: int = 50                      # inprocess: ggml threadpool polling level 0-100 (llama-bench --poll)
    type_k: str = "f16"
    type_v: str = "f16"
    swa_full: bool = False              # full-size KV cache for sliding-window layers (llama.cpp's tools: off)
    repack: Any = "auto"                # CPU extra buffer types (weight repacking, AMX): true | false | auto
    # offload and devices (llama-bench's names; inprocess and a managed http server)
    n_cpu_moe: int = 0                  # the MoE experts of the first N layers stay on the CPU (-ncmoe)
    tensor_buft_overrides: str = ""     # -ot: PATTERN=BUFFER_TYPE, several separated by ; ("" or none: no override)
    no_kv_offload: bool = False         # keep the KV cache in host memory (-nkvo)
    split_mode: str = "layer"           # none | layer | row: how the model spreads over GPUs (-sm)
    main_gpu: int = 0                   # the GPU for split_mode=none and row's intermediate results (-mg)
    tensor_split: str = ""              # proportions per GPU, separated by / (-ts 3/1); "": llama.cpp's default
    fit_check: bool = True              # refuse a point whose weights + KV cache cannot fit the free memory
    # http (a managed llama-server per point) and http_external (a server you run)
    url: str | None = None           # http_external: default $GPT_OSS_URL, else http://localhost:8000
    # http: default $LLAMA_SERVER, else the venv's llama-server (make install), else PATH
    server_binary: str | None = None
    endpoint: str = "completion"        # completion | v1_completions | v1_chat | v1_responses
    n_parallel: int = 1                 # http: llama-server -np (slots)
    # http, http_external: the requests' cache_prompt (reuse the slot's KV for a common prefix);
    # unset: off, except pp_tg at n_depth > 0, whose depth must stay cached (values.cache_prompt)
    cache_prompt: bool | None = None
    model_id: str = "gpt-oss"           # the model name sent to OpenAI-compatible endpoints
    timeout_s: float = 600.0            # one request
    startup_timeout_s: float = 120.0    # http: llama-server start until /health answers


@dataclass
class WorkloadConfig:
    name: str = "pp_tg"
    n_prompt: int = 512                 # pp_tg
    n_gen: int = 128                    # pp_tg
    n_depth: int = 0                    # pp_tg
    pg: bool = False                    # pp_tg: also a combined pp<n_prompt>+tg<n_gen> test
    repetitions: int = 5
    warmup: bool = True
    seed: int = 1234
    prompts: str | None = None       # chat: a JSONL of {id, lang, text}; default: the shipped set
    max_prompts: int = 0                # chat: 0 = all
    max_tokens: int = 64                # chat: generated tokens at most per request
    temperature: float = 0.0            # chat, load: 0 = greedy
    concurrency: int = 1                # load: concurrent streaming clients
    num_requests: int = 16              # load: requests in all, at most
    duration_s: float = 60.0            # load: seconds, at most
    suite: str | None = None         # agent: a folder of task YAML; default: the shipped suite
    tasks: list[str] = field(default_factory=list)  # agent: task ids to run (empty: all)
    trials: int = 1                     # agent: trials per task (pass@k for k up to trials)
    max_turns: int = 0                  # agent: 0 = each task's own max_turns
    corpus: str | None = None        # agent: the browser's offline corpus; default: the shipped one
    python_timeout_s: float = 30.0      # agent: the python tool's wall-clock limit
    unsafe_python: bool = False         # agent: run the python tool even where it cannot hide the user's files
    text: str | None = None          # kld: the text scored; default: harness/data/text/mixed.txt
    n_ctx: int = 512                    # kld: tokens per scored chunk (llama-perplexity -c)
    chunks: int = 0                     # kld: chunks scored, 0 = all (llama-perplexity --chunks)
    base_quant: str = "F16"             # kld: the quant of the same preset each quant is compared with


@dataclass
class HarmonyConfig:
    """What mode=harmony renders around the user's message (openai-harmony)."""
    reasoning_effort: str = "low"
    knowledge_cutoff: str = "2024-06"
    conversation_date: str | None = None
    model_identity: str | None = None
    developer_instructions: str | None = None


@dataclass
class BenchConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    backend: BackendConfig = field(default_factory=BackendConfig)
    workload: WorkloadConfig = field(default_factory=WorkloadConfig)
    harmony: HarmonyConfig = field(default_factory=HarmonyConfig)
    mode: str = "raw"
    results_dir: str = "results"
    run_name: str = "bench"
    sweep: Any = None                   # set by a sweep/ preset: a name and a description
    fail_on_error: bool = True
    resume: str | None = None        # a sweep folder: run only the points it does not hold finished


def register() -> None:
    cs = ConfigStore.instance()
    cs.store(name="bench_schema", node=BenchConfig)
    cs.store(group="model", name="model_schema", node=ModelConfig)
    cs.store(group="backend", name="backend_schema", node=BackendConfig)
    cs.store(group="workload", name="workload_schema", node=WorkloadConfig)
