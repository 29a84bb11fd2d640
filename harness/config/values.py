"""Config values that take parsing, not just a type or a list: backend.cpu_mask and backend.repack.

Validation refuses a bad one in one line; the backends read the same parse (the CPUs they pin to,
repack on, off or still to be probed), so a value means one thing everywhere.
"""
from __future__ import annotations

import os
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
