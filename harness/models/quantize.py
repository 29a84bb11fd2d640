"""Quantized variants with llama.cpp's own quantizer (llama_model_quantize)."""
from __future__ import annotations

import ctypes
import os
from pathlib import Path

import llama_cpp

from harness.backends.llama_log import llama_log

FTYPES = {
    "F16": llama_cpp.LLAMA_FTYPE_MOSTLY_F16,
    "BF16": llama_cpp.LLAMA_FTYPE_MOSTLY_BF16,
    "Q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0,
    "Q6_K": llama_cpp.LLAMA_FTYPE_MOSTLY_Q6_K,
    "Q5_K_M": llama_cpp.LLAMA_FTYPE_MOSTLY_Q5_K_M,
    "Q5_K_S": llama_cpp.LLAMA_FTYPE_MOSTLY_Q5_K_S,
    "Q4_K_M": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M,
    "Q4_K_S": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_S,
    "Q4_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0,
    "Q3_K_M": llama_cpp.LLAMA_FTYPE_MOSTLY_Q3_K_M,
    "Q3_K_S": llama_cpp.LLAMA_FTYPE_MOSTLY_Q3_K_S,
    "Q2_K": llama_cpp.LLAMA_FTYPE_MOSTLY_Q2_K,
    "IQ4_NL": llama_cpp.LLAMA_FTYPE_MOSTLY_IQ4_NL,
    "MXFP4_MOE": 38,  # LLAMA_FTYPE_MOSTLY_MXFP4_MOE, the format gpt-oss ships in
}


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
