"""Value checks that types cannot express. Each failure is one line: key, value, what is allowed.

What the config alone cannot tell (does a kind=file model's GGUF exist, does the agent suite know
every task asked for) is checked by hooks the layers owning those things install (add_check;
harness.workloads.install_checks installs them all); validate() runs each at its place among the
checks, so the first error said is the same as ever.
"""
from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from harness.config import schema, values


class ConfigError(ValueError):
    """A user error in the configuration; its message is the whole story, no traceback."""


Check = Callable[[DictConfig], None]
HOOKS = ("model.file", "workload.agent")  # where validate() runs an installed check
_CHECKS: dict[str, Check] = {}


def add_check(hook: str, check: Check) -> None:
    """Install `check` (it raises ConfigError) at `hook`: "model.file" for a kind=file model that needs
    its file, "workload.agent" last among workload=agent's checks. Installing again replaces it."""
    if hook not in HOOKS:
        raise ValueError(f"unknown validation hook {hook!r}; choose one of: {', '.join(HOOKS)}")
    _CHECKS[hook] = check


def _hook(hook: str, cfg: DictConfig) -> None:
    check = _CHECKS.get(hook)
    if check is not None:
        check(cfg)


def _one_of(key: str, value: Any, allowed: Collection[Any]) -> None:
    if value not in allowed:
        raise ConfigError(f"{key}={value!r} is not allowed; choose one of: {', '.join(map(str, allowed))}")


def _at_least(key: str, value: int, low: int) -> None:
    if value < low:
        raise ConfigError(f"{key}={value} is out of range; it must be >= {low}")


def resume_folder(value: Any) -> Path:
    """resume=RUN_DIR: an existing sweep folder (one `harness bench -m` wrote, or an empty one)."""
    path = Path(str(value)).expanduser()
    if not path.is_dir():
        raise ConfigError(f"resume={value}: no such folder; give the sweep folder of the run to resume "
                          "(results/<run>)")
    if (path / "results.csv").is_file() and not (path / "jobs").is_dir():
        raise ConfigError(f"resume={value} is a single run (no jobs/ folder), not a sweep: run it again instead")
    return path


def validate(cfg: DictConfig) -> None:
    m, b, w = cfg.model, cfg.backend, cfg.workload
    if cfg.get("resume") is not None:
        resume_folder(cfg.resume)
    _one_of("mode", cfg.mode, schema.MODES)
    _one_of("harmony.reasoning_effort", cfg.harmony.reasoning_effort, schema.EFFORTS)
    _one_of("model.kind", m.kind, ("synthetic", "file"))
    if m.kind == "synthetic":
        _one_of("model.quant", m.quant, schema.QUANTS)
        for key in ("n_embd", "n_layer", "n_head", "n_head_kv", "head_dim", "n_expert", "n_ff_exp"):
            _at_least(f"model.arch.{key}", m.arch[key], 1)
        if m.arch.n_expert_used > m.arch.n_expert or m.arch.n_expert_used < 1:
            raise ConfigError(f"model.arch.n_expert_used={m.arch.n_expert_used} is out of range; "
                              f"it must be between 1 and model.arch.n_expert={m.arch.n_expert}")
    elif cfg.backend.type not in schema.REPLAY_BACKENDS:  # replay needs no model file
        _hook("model.file", cfg)
    _one_of("backend.type", b.type, schema.BACKENDS)
    _at_least("backend.n_ctx", b.n_ctx, 1)
    _at_least("backend.n_batch", b.n_batch, 1)
    _at_least("backend.n_ubatch", b.n_ubatch, 1)
    if b.n_ubatch > b.n_batch:
        raise ConfigError(f"backend.n_ubatch={b.n_ubatch} is larger than backend.n_batch={b.n_batch}; "
                          "n_ubatch must be <= n_batch")
    _at_least("backend.n_threads", b.n_threads, 0)
    try:
        values.check_cpu_mask(b.cpu_mask)
    except values.MaskError as exc:
        raise ConfigError(str(exc)) from None
    if not 0 <= b.poll <= 100:
        raise ConfigError(f"backend.poll={b.poll} is out of range; it must be between 0 and 100 (llama-bench --poll)")
    _at_least("backend.n_gpu_layers", b.n_gpu_layers, -1)
    if b.load_mode is not None:
        _one_of("backend.load_mode", b.load_mode, schema.LOAD_MODES)
    _one_of("backend.flash_attn", b.flash_attn, schema.FLASH_ATTN)
    try:
        values.parse_repack(b.repack)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    _offload(b)
    _one_of("backend.type_k", b.type_k, schema.KV_TYPES)
    _one_of("backend.type_v", b.type_v, schema.KV_TYPES)
    _one_of("backend.endpoint", b.endpoint, schema.ENDPOINTS)
    _at_least("backend.n_parallel", b.n_parallel, 1)
    if cfg.mode == "harmony" and b.type != "inprocess" and b.endpoint != "completion":
        raise ConfigError(f"mode=harmony with backend.endpoint={b.endpoint} is not supported; Harmony over "
                          "HTTP sends and parses token ids: use backend.endpoint=completion")
    if b.type == "http_external" and not str(b.url or "").startswith(("http://", "https://")):
        raise ConfigError(f"backend.url={b.url!r} is not an http(s) URL; set backend.url or GPT_OSS_URL")
    _one_of("workload.name", w.name, schema.WORKLOADS)
    _at_least("workload.repetitions", w.repetitions, 1)
    if w.name == "agent":
        _agent(cfg)
        return
    if b.type in schema.REPLAY_BACKENDS:
        raise ConfigError(f"backend.type={b.type} replays the agent suite's recorded completions; "
                          "use it with workload=agent")
    if w.name == "kld":
        _kld(cfg)
        return
    if w.name == "load":
        if b.type == "inprocess":
            raise ConfigError("workload=load with backend.type=inprocess is not supported; "
                              "use backend=http or backend=http_external")
        _at_least("workload.concurrency", w.concurrency, 1)
        _at_least("workload.num_requests", w.num_requests, 1)
        if not 0 < w.duration_s <= 3600:
            raise ConfigError(f"workload.duration_s={w.duration_s} is out of range; it must be in (0, 3600]")
    if w.name in ("chat", "load"):
        _at_least("workload.max_tokens", w.max_tokens, 1)
        _at_least("workload.max_prompts", w.max_prompts, 0)
        if w.prompts and not Path(w.prompts).expanduser().is_file():
            raise ConfigError(f"workload.prompts={w.prompts} does not exist; give a JSONL file of "
                              '{"id", "lang", "text"} lines, or leave it unset for the shipped prompts')
        return
    for key in ("n_prompt", "n_gen", "n_depth"):
        _at_least(f"workload.{key}", w[key], 0)
    if w.n_prompt + w.n_gen == 0:
        raise ConfigError("workload.n_prompt=0 and workload.n_gen=0: nothing to measure; set either > 0")
    need = w.n_depth + w.n_prompt + w.n_gen
    if need > b.n_ctx:
        raise ConfigError(f"backend.n_ctx={b.n_ctx} is too small for n_depth+n_prompt+n_gen={need}; "
                          f"it must be >= {need}")


OFFLOAD_KEYS = ("n_cpu_moe", "tensor_buft_overrides", "no_kv_offload", "split_mode", "main_gpu", "tensor_split")
LOADING_BACKENDS = ("inprocess", "http")  # where the harness loads the model (the offload axes apply)


def _offload(b: DictConfig) -> None:
    """The offload and device axes: in range and parsable; whether the devices exist is the backend's check
    (the sweep may be planned on another machine than the one that runs it)."""
    _at_least("backend.n_cpu_moe", b.get("n_cpu_moe", 0), 0)
    _at_least("backend.main_gpu", b.get("main_gpu", 0), 0)
    _one_of("backend.split_mode", b.get("split_mode", "layer"), schema.SPLIT_MODES)
    try:
        values.parse_overrides(b.get("tensor_buft_overrides", ""))
        values.parse_tensor_split(b.get("tensor_split", ""))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if b.type not in LOADING_BACKENDS:
        default = schema.BackendConfig()
        for key in OFFLOAD_KEYS:
            if key in b and b[key] != getattr(default, key) and not (key == "tensor_buft_overrides" and
                                                                     not values.parse_overrides(b[key])):
                raise ConfigError(f"backend.{key}={b[key]} needs a backend that loads the model "
                                  f"({', '.join(LOADING_BACKENDS)}); backend.type={b.type} does not")


def _kld(cfg: DictConfig) -> None:
    """workload=kld: in-process (it reads the full logits), a chunk that has a second half, a base quant."""
    w = cfg.workload
    if cfg.backend.type != "inprocess":
        raise ConfigError(f"workload=kld with backend.type={cfg.backend.type} is not supported; it reads the full "
                          "next-token logits: use backend=inprocess")
    _at_least("workload.n_ctx", w.n_ctx, 16)
    _at_least("workload.chunks", w.chunks, 0)
    _one_of("workload.base_quant", w.base_quant, schema.QUANTS)
    if w.text and not Path(w.text).expanduser().is_file():
        raise ConfigError(f"workload.text={w.text} does not exist; give a UTF-8 text file, or leave it unset for "
                          "the shipped text")


def _agent(cfg: DictConfig) -> None:
    """workload=agent: Harmony, trials and turns in range; then the hook: a readable suite (every task id known)."""
    w = cfg.workload
    if cfg.mode != "harmony":
        raise ConfigError(f"workload=agent with mode={cfg.mode} is not supported; the agent's tool calls need "
                          "Harmony: use mode=harmony")
    _at_least("workload.trials", w.trials, 1)
    _at_least("workload.max_turns", w.max_turns, 0)
    _at_least("workload.max_tokens", w.max_tokens, 1)
    if w.corpus and not Path(w.corpus).expanduser().is_dir():
        raise ConfigError(f"workload.corpus={w.corpus} is not a folder; give a folder of .txt/.md/.html files, "
                          "or leave it unset for the shipped corpus")
    _hook("workload.agent", cfg)
