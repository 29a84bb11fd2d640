"""Config values that take parsing, not just a type or a list: backend.cpu_mask, backend.repack,
backend.tensor_buft_overrides and backend.tensor_split.

Validation refuses a bad one in one line; the backends read the same parse (the CPUs they pin to,
repack on, off or still to be probed), so a value means one thing everywhere.
"""
from __future__ import annotations

import os
import re
from typing import Any

AUTO = "auto"  # backend.repack=auto: probed once per llama.cpp build and CPU (backends/repack.py)


class MaskError(ValueError):
    """A backend.cpu_mask that is not a hex mask, or names CPUs this process cannot run on."""


def parse_cpu_mask(mask: str) -> frozenset[int]:
    """CPU ids of a llama-bench style hex mask ("0x2", "3", "0xff"); empty for 0x0 (no pinning)."""
    text = str(mask).strip().lower()
    try:
        bits = int(text[2:] if text.startswith("0x") else text, 16)
    except ValueError:
        raise MaskError(f"backend.cpu_mask={mask!r} is not a hex CPU mask; e.g. 0x2 is CPU 1, 0x3 CPUs 0-1, "
                        "0x0 no pinning") from None
    return frozenset(i for i in range(bits.bit_length()) if bits >> i & 1)


def check_cpu_mask(mask: str) -> frozenset[int]:
    """The mask's CPUs, refused with one line when this machine cannot pin to them."""
    cpus = parse_cpu_mask(mask)
    if not cpus:
        return cpus
    if not hasattr(os, "sched_setaffinity"):
        raise MaskError(f"backend.cpu_mask={mask}: pinning needs sched_setaffinity (Linux); use 0x0 here")
    allowed = os.sched_getaffinity(0)
    if not cpus <= allowed:
        raise MaskError(f"backend.cpu_mask={mask} names CPUs {sorted(cpus - allowed)} this process cannot run on; "
                        f"allowed: {sorted(allowed)}")
    return cpus


def parse_repack(value: Any) -> bool | str:
    """true/false/auto from a config value (YAML and overrides give bools; strings are accepted)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "on", "yes"):
        return True
    if text in ("false", "0", "off", "no"):
        return False
    if text == AUTO:
        return AUTO
    raise ValueError(f"backend.repack={value!r} is not allowed; choose one of: true, false, auto")


NO_OVERRIDES = "none"  # llama-bench's tensor_buft_overrides when there are none


def parse_overrides(value: Any) -> list[tuple[str, str]]:
    """(pattern, buffer type) pairs of backend.tensor_buft_overrides: PATTERN=BUFT separated by ;
    (llama-bench's -ot) or , (llama-server's -ot; in a sweep the comma separates values, so use ;).
    "" and "none" mean no override. The buffer type names a device's buffer (CPU, CUDA0, Vulkan0,
    Metal...): whether this build has it is the backend's check."""
    text = str(value or "").strip()
    if text.lower() in ("", NO_OVERRIDES):
        return []
    pairs = []
    for part in filter(None, (p.strip() for p in re.split(r"[;,]", text))):
        pattern, eq, buft = part.rpartition("=")
        if not eq or not pattern or not buft.strip():
            raise ValueError(f"backend.tensor_buft_overrides={text!r}: {part!r} is not PATTERN=BUFFER_TYPE; "
                             r"e.g. exps=CPU or blk\.[0-3]\.ffn_.*_exps=CPU, several separated by ;")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"backend.tensor_buft_overrides={text!r}: {pattern!r} is not a regular expression "
                             f"({exc})") from None
        pairs.append((pattern, buft.strip()))
    return pairs


def overrides_text(pairs: list[tuple[str, str]]) -> str:
    """The tensor_buft_overrides column, as llama-bench prints it: pattern=BUFT;... or none."""
    return ";".join(f"{p}={b}" for p, b in pairs) or NO_OVERRIDES


def parse_tensor_split(value: Any) -> list[float]:
    """backend.tensor_split proportions per GPU ("3/1", llama-bench's -ts; ; also separates); [] when unset."""
    text = str(value or "").strip()
    if not text:
        return []
    try:
        parts = [float(p) for p in re.split(r"[/;]", text)]
    except ValueError:
        raise ValueError(f"backend.tensor_split={text!r} is not a list of proportions; e.g. 3/1 puts 3/4 of "
                         "the model on GPU 0 and 1/4 on GPU 1") from None
    if any(p < 0 or p != p for p in parts) or not any(parts):
        raise ValueError(f"backend.tensor_split={text!r}: proportions must be >= 0 and not all 0")
    return parts


def tensor_split_text(parts: list[float]) -> str:
    """The tensor_split column, as llama-bench prints it: 3.00/1.00, 0.00 when unset."""
    return "/".join(f"{p:.2f}" for p in parts) or "0.00"


CACHE_PROMPT_BACKENDS = ("http", "http_external")  # where backend.cache_prompt is sent (llama-server's field)


def cache_prompt(cfg: Any) -> bool | str:
    """The cache_prompt a point's requests use (its column): backend.cache_prompt when set, else on only
    for pp_tg at n_depth > 0 (the depth is sent first and must stay cached); "" where no server is asked."""
    b, w = cfg.backend, cfg.workload
    if b.type not in CACHE_PROMPT_BACKENDS or (b.type == "http_external" and b.endpoint != "completion"):
        return ""  # an external server's OpenAI endpoints get no llama.cpp fields
    if b.cache_prompt is not None:
        return bool(b.cache_prompt)
    return bool(w.name == "pp_tg" and w.n_depth > 0)
