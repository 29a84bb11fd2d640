"""Browser pages as gpt-oss sees them: wrapped lines, link ids, a viewing window, `find` results.

A page's text carries its links inline as `【{id}†{text}】` (or `【{id}†{text}†{domain}】` for a link
to another site); `links` maps each id to the URL it opens. Search and find result pages also
remember, per link id, the line its passage starts at, so that opening it lands on that passage.
The layout follows openai/gpt-oss's reference browser (`[cursor] title (url)`, a
`**viewing lines [a - b] of n**` scrollbar, `L{n}: ` line numbers, 80-column wrapping).
"""
from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote

from harness.agent.tools.base import ToolError

WRAP_WIDTH = 80
VIEW_CHARS = 4096  # the default window: about the reference's 1024 tokens of numbered lines
FIND_CONTEXT_LINES = 4
FIND_MAX_RESULTS = 50

LINK_RE = re.compile(r"【\d+†(?P<text>[^†】]+)(?:†[^†】]+)?】")
_NO_BREAK = "\ue000"  # stands in for spaces inside a link while wrapping, so a link stays on one line

PageKind = Literal["document", "search", "find", "source"]


@dataclass
class Page:
    """One page of the browser: a document, a search result list, find results or a page source."""

    url: str
    title: str
    lines: list[str]
    links: dict[int, str] = field(default_factory=dict)  # link id -> URL
    anchors: dict[int, int] = field(default_factory=dict)  # link id -> line of its passage
    kind: PageKind = "document"

    @classmethod
    def from_text(cls, url: str, title: str, text: str, links: dict[int, str] | None = None,
                  anchors: dict[int, int] | None = None, kind: PageKind = "document") -> Page:
        return cls(url, title, wrap_lines(text), dict(links or {}), dict(anchors or {}), kind)


def wrap_lines(text: str, width: int = WRAP_WIDTH) -> list[str]:
    """The text's lines wrapped at `width` columns; empty lines kept, links never split."""
    protected = LINK_RE.sub(lambda m: m.group(0).replace(" ", _NO_BREAK), text)
    out: list[str] = []
    for line in protected.split("\n"):
        parts = textwrap.wrap(line, width=width, replace_whitespace=False, drop_whitespace=False,
                              break_long_words=False, break_on_hyphens=False) if line else [""]
        out.extend(p.replace(_NO_BREAK, " ") for p in parts)
    return out or [""]


def strip_links(text: str) -> str:
    """`【3†Transit†example.org】` -> `Transit`: the text a reader sees."""
    return LINK_RE.sub(lambda m: m.group("text"), text)


def numbered(lines: list[str], offset: int) -> str:
    return "\n".join(f"L{offset + i}: {line}" for i, line in enumerate(lines))


def window_end(lines: list[str], loc: int, num_lines: int, view_chars: int = VIEW_CHARS) -> int:
    """The end (exclusive) of the window that starts at `loc`.

    `num_lines` > 0 shows that many lines (fewer at the end of the page); otherwise as many
    numbered lines as fit in `view_chars`, and always at least one.
    """
    total = len(lines)
    if num_lines > 0:
        return min(loc + num_lines, total)
    end, size = loc, 0
    while end < total:
        size += len(f"L{end}: {lines[end]}\n")
        if size > view_chars and end > loc:
            break
        end += 1
    return end


def render(page: Page, cursor: int, loc: int, num_lines: int, view_chars: int = VIEW_CHARS) -> str:
    """The browsing display of `page` at `cursor`, from line `loc`; ToolError past the last line."""
    total = len(page.lines)
    if loc >= total:
        raise ToolError(f"Invalid location parameter: `{loc}`. Cannot exceed page maximum of {total - 1}.")
    end = window_end(page.lines, loc, num_lines, view_chars)
    header = f"[{cursor}] {page.title}" + (f" ({page.url})" if page.url else "")
    scrollbar = f"**viewing lines [{loc} - {end - 1}] of {total - 1}**"
    return f"{header}\n{scrollbar}\n\n{numbered(page.lines[loc:end], loc)}"


def find_in_page(page: Page, pattern: str, max_results: int = FIND_MAX_RESULTS,
                 context: int = FIND_CONTEXT_LINES) -> Page:
    """A page of the case-insensitive matches of `pattern` in `page`, each with the lines after it.

    Link id N of the result page opens the searched page at match N.
    """
    needle = pattern.lower()
    lines = [strip_links(line) for line in page.lines]
    chunks: list[str] = []
    anchors: dict[int, int] = {}
    idx = 0
    while idx < len(lines) and len(chunks) < max_results:
        if needle not in lines[idx].lower():
            idx += 1
            continue
        n = len(chunks)
        anchors[n] = idx
        chunks.append(f"# 【{n}†match at L{idx}】\n" + "\n".join(lines[idx:idx + context]))
        idx += context
    text = "\n\n".join(chunks) if chunks else f"No `find` results for pattern: `{pattern}`"
    return Page.from_text(
        url=f"{page.url}/find?pattern={quote(pattern)}",
        title=f"Find results for text: `{pattern}` in `{page.title}`",
        text=text, links={n: page.url for n in anchors}, anchors=anchors, kind="find")
