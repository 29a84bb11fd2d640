"""Reading task YAML: typed fields, each bad one reported in one line (key, value, what is allowed).

The loader (suite.py) and the verifiers (verifiers.py, calls.py) read their mappings through
these few functions, so every error names the same way where it is: `verifiers[1].abs_tol`.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

_MISSING: Any = object()
_FLAGS: dict[str, re.RegexFlag] = {"ignorecase": re.I, "multiline": re.M, "dotall": re.S, "verbose": re.X}
_TYPE_NAMES: dict[type, str] = {
    str: "a string", int: "an integer", float: "a number", bool: "true or false",
    list: "a list", dict: "a mapping",
}


class SpecError(ValueError):
    """A bad value in a task file: `key` (a path such as verifiers[0].kind), the value, what is allowed."""

    def __init__(self, key: str, value: Any, allowed: str) -> None:
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key} = {show(value)}: {allowed}")


def show(value: Any) -> str:
    """A short printable form of a value for an error line."""
    if value is _MISSING:
        return "(missing)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def is_number(value: Any) -> bool:
    """An int or a float, never a bool (YAML's true is no number)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fits(value: Any, kind: type) -> bool:
    if kind is float:
        return is_number(value)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def get(spec: Mapping[str, Any], key: str, kind: type, where: str, default: Any = _MISSING) -> Any:
    """spec[key] if it is of `kind` (float accepts an int), `default` when absent and not required."""
    path = f"{where}.{key}" if where else key
    if key not in spec or spec[key] is None:
        if default is _MISSING:
            raise SpecError(path, _MISSING, f"required; give {_TYPE_NAMES.get(kind, kind.__name__)}")
        return default
    value = spec[key]
    if not _fits(value, kind):
        raise SpecError(path, value, f"expected {_TYPE_NAMES.get(kind, kind.__name__)}")
    return float(value) if kind is float else value


def get_str_list(spec: Mapping[str, Any], key: str, where: str, default: Any = _MISSING) -> list[str]:
    """A string or a list of strings under `key`, as a list."""
    value = spec.get(key, default)
    if value is _MISSING:
        required: list[str] = get(spec, key, list, where)  # raises "required"
        return required
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"{where}.{key}", value, "expected a string or a list of strings")
    return list(value)


def check_keys(spec: Any, allowed: Iterable[str], where: str) -> Mapping[str, Any]:
    """`spec` itself, once it is a mapping with no key outside `allowed`."""
    allowed = tuple(allowed)
    if not isinstance(spec, Mapping):
        raise SpecError(where or "(top)", spec, f"expected a mapping with keys: {', '.join(allowed)}")
    for key in spec:
        if key not in allowed:
            raise SpecError(f"{where}.{key}" if where else str(key), spec[key],
                            f"unknown key; allowed: {', '.join(allowed)}")
    return spec


def one_of(value: Any, allowed: Iterable[Any], key: str) -> Any:
    """`value` if it is one of `allowed`."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise SpecError(key, value, f"allowed: {', '.join(map(str, allowed))}")
    return value


def compile_regex(spec: Mapping[str, Any], where: str, key: str = "pattern") -> re.Pattern[str]:
    """spec[key] compiled with spec["flags"]."""
    flags = 0
    for name in get_str_list(spec, "flags", where, default=[]):
        if name.lower() not in _FLAGS:
            raise SpecError(f"{where}.flags", name, f"allowed: {', '.join(_FLAGS)}")
        flags |= _FLAGS[name.lower()]
    pattern = get(spec, key, str, where)
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise SpecError(f"{where}.{key}", pattern, f"not a valid regular expression ({exc})") from None
