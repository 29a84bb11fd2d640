"""Tool recipient names in Harmony: the `functions` namespace and the built-in tools.

Function tools declared in the developer message live in the `functions` namespace, so a call
goes `to=functions.get_weather`. The built-in tools configured in the system message are
`browser.*` (browser.search, browser.open, browser.find) and `python`; they carry no prefix.
"""
from __future__ import annotations

FUNCTIONS_PREFIX = "functions."
BUILTIN_TOOLS: tuple[str, ...] = ("python",)
BUILTIN_NAMESPACES: tuple[str, ...] = ("browser.",)


def is_builtin(recipient: str) -> bool:
    """True for the built-in tools: `python` and anything under `browser.`."""
    return recipient in BUILTIN_TOOLS or recipient.startswith(BUILTIN_NAMESPACES)


def is_function(recipient: str) -> bool:
    """True for a recipient written with the `functions.` prefix."""
    return recipient.startswith(FUNCTIONS_PREFIX)


def qualify(name: str) -> str:
    """The recipient for a tool name: "get_weather" -> "functions.get_weather".

    Names that already carry a namespace ("functions.x", "browser.search") and the built-in
    `python` are returned unchanged.
    """
    if is_builtin(name) or "." in name:
        return name
    return FUNCTIONS_PREFIX + name


def short_name(recipient: str) -> str:
    """The tool name of a recipient: "functions.x" -> "x"; anything else unchanged."""
    return recipient[len(FUNCTIONS_PREFIX):] if is_function(recipient) else recipient
