"""backend.repack: llama.cpp's CPU extra buffer types (weight repacking, the AMX buffer), as
llama-bench's --repack, llama-server's -nr/--no-repack and llama_model_params.use_extra_bufts.

`auto` (the default) resolves to a boolean once per llama.cpp build and CPU: a probe in a
throwaway process loads quantized gpt-oss models with repack on and decodes a few tokens. If
that process dies (llama.cpp's AMX path crashes quantized gpt-oss on Intel AMX CPUs) repack is
off, else on, as llama.cpp's own default. The verdict is cached under the harness cache, keyed by
the llama.cpp library, its system info (the CPU features it compiled and found) and the CPU model.
Rows and env.json carry the resolved value, never "auto". The probe models are quantized variants
of synthetic-small (models/cache.py builds them); the value's parse is config/values.py's.

    python -m harness.backends.repack MODEL.gguf...    # the probe itself: exit 0, or die
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from harness.backends.orphans import describe_exit
from harness.config.values import AUTO, parse_repack
from harness.models import vocab

PROBE_TIMEOUT_S = 300.0
PROBE_PROMPT, PROBE_GEN = 64, 4
# quantized gpt-oss models whose tensor types llama.cpp's CPU repack and AMX paths take
# (synthetic-small's dimensions are multiples of 256, so k-quants apply)
PROBE_QUANTS = ("Q8_0", "Q4_K_M", "MXFP4_MOE")


def build_key() -> str:
    """The llama.cpp library (path, size, mtime), its system info and the CPU model, hashed."""
    import llama_cpp

    from harness.backends.inprocess import system_info
    lib = Path(llama_cpp.__file__).parent / "lib"
    files = sorted(f"{p.name}:{p.stat().st_size}:{int(p.stat().st_mtime)}" for p in lib.glob("lib*"))
    cpu = ""
    try:
        cpu = next((ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("model name")), "")
    except OSError:
        pass
    blob = json.dumps([llama_cpp.__version__, files, system_info(), cpu])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def probe(models: Iterable[Path]) -> dict[str, Any]:
    """Run the probe on each model in its own process; {"repack": bool, "reason": str}."""
    for model in models:
        try:
            r = subprocess.run([sys.executable, "-m", "harness.backends.repack", str(model)], capture_output=True,
                               text=True, timeout=PROBE_TIMEOUT_S, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return {"repack": False, "reason": f"the probe on {model.name} hung past {PROBE_TIMEOUT_S:g} s"}
        if r.returncode < 0:
            return {"repack": False, "reason": f"the probe on {model.name} died: {describe_exit(r.returncode)}"}
        if r.returncode != 0:
            tail = (r.stderr.strip().splitlines() or ["no output"])[-1]
            return {"repack": True, "reason": f"the probe on {model.name} failed without a crash ({tail}); "
                                              "llama.cpp's default kept"}
    return {"repack": True, "reason": "the probe decoded every probe model with repack on"}


def cache_file(root: Path) -> Path:
    return root / "repack" / f"{build_key()}.json"


def resolve(value: Any, cache_root: Path, probe_models: Callable[[], list[Path]]) -> bool:
    """The boolean for `value`; auto: the cached verdict, else a fresh probe (then cached)."""
    value = parse_repack(value)
    if value != AUTO:
        return bool(value)
    path = cache_file(cache_root)
    if path.is_file():
        return bool(json.loads(path.read_text())["repack"])
    print("repack=auto: probing llama.cpp's CPU repack path once for this build and CPU ...", file=sys.stderr,
          flush=True)
    verdict = probe(probe_models())
    print(f"repack=auto resolved to {str(verdict['repack']).lower()}: {verdict['reason']} (cached in {path})",
          file=sys.stderr, flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(verdict) + "\n")
    os.replace(tmp, path)
    return bool(verdict["repack"])


def probe_models() -> list[Path]:
    """The probe's models: synthetic-small (the shipped preset) in each of PROBE_QUANTS, built if missing."""
    from omegaconf import OmegaConf

    from harness.config.plan import config_dir
    from harness.config.schema import ModelConfig
    from harness.models.cache import prepare
    small = OmegaConf.merge(OmegaConf.structured(ModelConfig),
                            OmegaConf.load(config_dir() / "model" / "synthetic-small.yaml"))
    return [prepare(OmegaConf.merge(small, {"quant": q})) for q in PROBE_QUANTS]


def resolve_repack(value: Any) -> bool:
    """backend.repack as a boolean: true/false as given, auto probed once per llama.cpp build and CPU."""
    return resolve(value, vocab.cache_root(), probe_models)


def _probe_main(paths: list[str]) -> int:  # pragma: no cover - runs in the throwaway process
    import llama_cpp
    import numpy as np

    from harness.models.llama_log import llama_log
    llama_log()
    for path in paths:
        params = llama_cpp.llama_model_default_params()
        params.use_extra_bufts = True
        model = llama_cpp.llama_model_load_from_file(path.encode(), params)
        if not model:
            print(f"could not load {path}: {llama_log().reason()}", file=sys.stderr)
            return 3
        cp = llama_cpp.llama_context_default_params()
        cp.n_ctx, cp.n_batch, cp.n_ubatch = 256, 256, 256
        ctx = llama_cpp.llama_init_from_model(model, cp)
        n_vocab = llama_cpp.llama_vocab_n_tokens(llama_cpp.llama_model_get_vocab(model))
        tokens = np.random.default_rng(0).integers(0, n_vocab, PROBE_PROMPT + PROBE_GEN, dtype=np.int32)
        for chunk in [tokens[:PROBE_PROMPT], *([t] for t in tokens[PROBE_PROMPT:])]:
            arr = np.ascontiguousarray(chunk, dtype=np.int32)
            buf = (llama_cpp.llama_token * len(arr)).from_buffer(arr)  # type: ignore[arg-type]  # numpy: Buffer on 3.12+
            if llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(buf, len(arr))):
                print(f"llama_decode failed on {path}: {llama_log().reason()}", file=sys.stderr)
                return 3
            llama_cpp.llama_synchronize(ctx)
        llama_cpp.llama_free(ctx)
        llama_cpp.llama_model_free(model)
    return 0


if __name__ == "__main__":
    sys.exit(_probe_main(sys.argv[1:]))
