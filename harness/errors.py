"""How the harness says what went wrong: in one line.

An error that ends a command is `PROG: error: MESSAGE` on stderr with exit status 2 (a usage or
input error) or 1; an error kept in a result row or passed on from a server is folded to one
line first. Every module that says an error uses these, so all say it alike.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn


def error_line(exc: BaseException, limit: int = 500) -> str:
    """`Type: message`, its first line only, at most `limit` characters."""
    return (f"{type(exc).__name__}: {exc}".splitlines() or [""])[0][:limit]


def one_line(text: Any, limit: int = 400) -> str:
    """Any text (a server's message, a JSON body) with its white space folded: one line, at most `limit`."""
    return " ".join(str(text).split())[:limit]


def fail(prog: str, msg: str, code: int = 2) -> int:
    """Say `prog: error: msg` on stderr; returns `code` (2: the user can fix it) for `return fail(...)`."""
    print(f"{prog}: error: {msg}", file=sys.stderr)
    return code


def parse_args(ap: argparse.ArgumentParser, argv: list[str], prog: str) -> argparse.Namespace | int:
    """argparse's namespace, or the exit status it wanted: a usage error is said in one line
    (`prog: error: ...; see `ap.prog --help``) and gives 2, --help gives 0."""
    def one_line_usage(msg: str) -> NoReturn:
        raise SystemExit(fail(prog, f"{msg}; see `{ap.prog} --help`"))
    ap.error = one_line_usage  # type: ignore[method-assign,assignment]
    try:
        return ap.parse_args(argv)
    except SystemExit as exc:
        return 2 if exc.code else 0
