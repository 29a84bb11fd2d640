"""The model cache: synthetic models built once, named by content, quantized on demand."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path

from omegaconf import OmegaConf

from harness.config.schema import ArchConfig
from harness.config.validate import model_file
from harness.models import synthetic, vocab
from harness.models.quantize import quantize


def models_dir(model) -> Path:
    return Path(model.cache_dir).expanduser() if model.cache_dir else vocab.cache_root() / "models"


def content_key(arch: ArchConfig) -> str:
    """Everything that determines the F16 bytes; a changed preset gets a new name."""
    blob = json.dumps({"arch": dataclasses.asdict(arch), "writer": synthetic.WRITER_VERSION,
                       "vocab": vocab.VOCAB_SHA256,
                       "template": hashlib.sha256(synthetic.chat_template().encode()).hexdigest()},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _arch(model) -> ArchConfig:
    arch = model.arch
    if not isinstance(arch, ArchConfig):
        arch = ArchConfig(**OmegaConf.to_container(arch, resolve=True))
    return arch


def synthetic_path(model) -> Path:
    arch = _arch(model)
    folder = models_dir(model) / f"{model.name}-{content_key(arch)}"
    return folder / f"{model.name}-{model.quant}.gguf"


def prepare(model, log=None) -> Path:
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


# The probe of backend.repack=auto: quantized gpt-oss models whose tensor types llama.cpp's CPU repack
# and AMX paths take (synthetic-small's dimensions are multiples of 256, so k-quants apply).
REPACK_PROBE = ("Q8_0", "Q4_K_M", "MXFP4_MOE")


def repack_probe_models() -> list[Path]:
    from harness.config.plan import config_dir
    from harness.config.schema import ModelConfig
    small = OmegaConf.merge(OmegaConf.structured(ModelConfig), OmegaConf.load(config_dir() / "model" / "synthetic-small.yaml"))
    return [prepare(OmegaConf.merge(small, {"quant": q})) for q in REPACK_PROBE]


def resolve_repack(value) -> bool:
    """backend.repack as a boolean: true/false as given, auto probed once per llama.cpp build and CPU."""
    from harness.backends import repack
    return repack.resolve(value, vocab.cache_root(), repack_probe_models)
