"""The model cache: synthetic models built once, named by content, quantized on demand."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from omegaconf import OmegaConf

from harness.config.schema import ArchConfig
from harness.config.validate import ConfigError
from harness.models import synthetic, vocab
from harness.models.quantize import quantize


def model_file(model: Any) -> Path:
    """The GGUF a kind=file model points at; refuses a missing file naming where it looked
    (ConfigError, one line); config validation runs it for kind=file models (workloads.install_checks)."""
    raw = model.path
    if not raw:
        raise ConfigError(
            f"model.path is not set for model {model.name}; set model.path=/path/to/file.gguf"
            + (f" or {model.path_env}" if model.path_env else ""))
    path = Path(os.path.expanduser(str(raw).replace("{quant}", model.quant)))
    if not path.is_file():
        hint = f" ({model.source_hint})" if model.source_hint else ""
        via = f"model.path or {model.path_env}" if model.path_env else "model.path"
        raise ConfigError(f"model file for {model.name} not found: {path}; set {via} to your GGUF{hint}")
    return path


def models_dir(model: Any) -> Path:
    return Path(model.cache_dir).expanduser() if model.cache_dir else vocab.cache_root() / "models"


def content_key(arch: ArchConfig) -> str:
    """Everything that determines the F16 bytes; a changed preset gets a new name."""
    blob = json.dumps({"arch": dataclasses.asdict(arch), "writer": synthetic.WRITER_VERSION,
                       "vocab": vocab.VOCAB_SHA256,
                       "template": hashlib.sha256(synthetic.chat_template().encode()).hexdigest()},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _arch(model: Any) -> ArchConfig:
    arch = model.arch
    if not isinstance(arch, ArchConfig):
        arch = ArchConfig(**cast("dict[str, Any]", OmegaConf.to_container(arch, resolve=True)))  # a DictConfig
    return arch


def synthetic_path(model: Any) -> Path:
    arch = _arch(model)
    folder = models_dir(model) / f"{model.name}-{content_key(arch)}"
    return folder / f"{model.name}-{model.quant}.gguf"


def prepare(model: Any, log: Callable[[str], None] | None = None) -> Path:
    """Path of the model's GGUF, building the synthetic base and the quant if missing."""
    if model.kind == "file":
        return model_file(model)
    log = log or (lambda msg: print(msg, file=sys.stderr))
    target = synthetic_path(model)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    base = target.with_name(f"{model.name}-F16.gguf")
    if not base.is_file():
        log(f"building {base.name} ...")
        synthetic.write(_arch(model), base, model.name)
    if model.quant != "F16":
        log(f"quantizing {target.name} ...")
        quantize(base, target, model.quant)
    return target
