"""Quantized variants with llama.cpp's own quantizer (llama_model_quantize)."""
from __future__ import annotations

import ctypes
import os
from pathlib import Path

import llama_cpp

from harness.config.schema import QUANTS
from harness.models.llama_log import llama_log

_MISSING = {"MXFP4_MOE": 38}  # LLAMA_FTYPE_MOSTLY_MXFP4_MOE (gpt-oss's format), for bindings without the name
FTYPES: dict[str, int] = {q: getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{q}")
                          if hasattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{q}") else _MISSING[q]
                          for q in QUANTS}  # each of config.schema.QUANTS


class QuantizeError(RuntimeError):
    pass


def quantize(src: Path, dst: Path, quant: str, n_threads: int | None = None) -> Path:
    """Quantize `src` (F16) into `dst` atomically; llama.cpp picks fallbacks for odd shapes."""
    log = llama_log()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FTYPES[quant]
    params.nthread = n_threads or os.cpu_count() or 1
    tmp = dst.with_name(dst.name + f".tmp{os.getpid()}")
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(), ctypes.byref(params))
    if rc != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise QuantizeError(f"llama_model_quantize failed for {quant} (code {rc}): {src} -> {dst}: "
                            f"{log.reason() or 'no reason logged'}")
    os.replace(tmp, dst)
    return dst
