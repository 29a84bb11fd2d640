"""HTML, Markdown and plain text to browser text, with links kept as `【{id}†{text}】`.

`resolve(href)` turns a link target into the URL that `open` will follow, or None when the link
goes nowhere the browser can open (an in-page anchor, mailto:, javascript:, a path outside the
corpus); such links are kept as plain text. Characters the browser uses for its own markup
(`【`, `】`, `†`) are replaced in the source text, so a document cannot forge links.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

Resolver = Callable[[str], "str | None"]

_SPECIALS = str.maketrans({"【": "〖", "】": "〗", "†": "‡"})
_BLOCKS = {"p", "div", "section", "article", "header", "footer", "nav", "main", "aside", "ul", "ol",
           "table", "tr", "pre", "blockquote", "dl", "dt", "dd", "figure", "figcaption", "form",
           "br", "hr"}
_SKIPPED = {"script", "style", "noscript", "template", "head", "svg"}
_HEADINGS = {f"h{n}": n for n in range(1, 7)}


def sanitize(text: str) -> str:
    return text.translate(_SPECIALS)


@dataclass
class Converted:
    """A document as browser text: its title, text with inline links, and link id -> URL."""

    title: str
    text: str
    links: dict[int, str] = field(default_factory=dict)


@dataclass
class LinkTable:
    """Numbers link targets in order of first appearance; the same URL keeps one id."""

    home: str = ""  # the domain of the page: links to it carry no domain suffix
    links: dict[int, str] = field(default_factory=dict)

    def render(self, url: str, text: str) -> str:
        ids = {u: i for i, u in self.links.items()}
        link_id = ids.get(url, len(self.links))
        self.links[link_id] = url
        label = " ".join(text.split()) or url
        domain = urlsplit(url).netloc
        suffix = f"†{domain}" if domain and domain != self.home else ""
        return f"【{link_id}†{label}{suffix}】"


def tidy(text: str) -> str:
    """Trimmed lines, single spaces, at most one blank line in a row."""
    lines = [re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def convert_text(source: str, fallback_title: str) -> Converted:
    """Plain text: kept as it is; the title is its first non-empty line."""
    text = sanitize(source).strip()
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return Converted(first[:100] or fallback_title, text)


_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_MD_TITLE = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


_MD_BLOCK_START = re.compile(r"\s*(?:[#>|*+-]|\d+[.)]\s|```|~~~)|\s{4}|\t")


def reflow_markdown(text: str) -> str:
    """Paragraph lines joined into one line (the browser wraps them), block structure kept.

    A line continues the previous one (a paragraph or a list item) unless either is blank, the
    line starts a block (heading, list item, quote, table row, fence, indented code), the
    previous line is a heading or a table row, or the lines are inside a fence.
    """
    out: list[str] = []
    fenced = False
    for line in text.split("\n"):
        starts_fence = line.lstrip().startswith(("```", "~~~"))
        prev = out[-1] if out else ""
        joinable = (not fenced and not starts_fence and line.strip() and prev.strip()
                    and not _MD_BLOCK_START.match(line) and not prev.lstrip().startswith(("#", "|")))
        if joinable:
            out[-1] = prev.rstrip() + " " + line.strip()
        else:
            out.append(line)
        if starts_fence:
            fenced = not fenced
    return "\n".join(out)


def convert_markdown(source: str, resolve: Resolver, fallback_title: str, home: str = "") -> Converted:
    """Markdown: paragraphs reflowed, `[text](href)` links become `【id†text】`, images their alt."""
    text = reflow_markdown(sanitize(source))
    title = m.group(1).strip() if (m := _MD_TITLE.search(text)) else fallback_title
    table = LinkTable(home)
    text = _MD_IMAGE.sub(lambda m: f"[Image: {m.group(1)}]" if m.group(1) else "", text)

    def link(m: re.Match[str]) -> str:
        url = resolve(m.group(2))
        return table.render(url, m.group(1)) if url else m.group(1)

    return Converted(title, _MD_LINK.sub(link, text).strip(), table.links)


class _HtmlText(HTMLParser):
    def __init__(self, resolve: Resolver, home: str) -> None:
        super().__init__(convert_charrefs=True)
        self.resolve, self.table = resolve, LinkTable(home)
        self.out: list[str] = []
        self.skip = 0  # depth inside skipped elements
        self.pre = 0
        self.title: str | None = None
        self.in_title = False
        self.h1: str | None = None
        self.heading: list[str] | None = None
        self.anchor: tuple[str | None, list[str]] | None = None  # (URL, text) of the open <a>

    def emit(self, text: str) -> None:
        if self.anchor is not None:
            self.anchor[1].append(text)
        else:
            self.out.append(text)
        if self.heading is not None:
            self.heading.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "title":
            self.in_title = True
        if tag in _SKIPPED:
            self.skip += 1
        if self.skip:
            return
        if tag in _HEADINGS:
            self.out.append("\n\n" + "#" * _HEADINGS[tag] + " ")
            self.heading = []
        elif tag == "li":
            self.out.append("\n* ")
        elif tag in ("td", "th"):
            self.out.append(" | ")
        elif tag in _BLOCKS:
            self.out.append("\n\n" if tag in ("p", "table", "pre", "blockquote") else "\n")
            if tag == "pre":
                self.pre += 1
        elif tag == "img" and a.get("alt"):
            self.emit(f"[Image: {a['alt']}]")
        elif tag == "a" and self.anchor is None:
            href = a.get("href")
            self.anchor = (self.resolve(href) if href else None, [])

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in _SKIPPED:
            self.skip -= 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if tag in _SKIPPED:
            self.skip = max(0, self.skip - 1)
            return
        if self.skip:
            return
        if tag == "a" and self.anchor is not None:
            url, parts = self.anchor
            self.anchor = None
            text = " ".join("".join(parts).split())
            self.out.append(self.table.render(url, text) if url and text else text)
        elif tag in _HEADINGS:
            if tag == "h1" and self.h1 is None and self.heading:
                self.h1 = " ".join("".join(self.heading).split())
            self.heading = None
            self.out.append("\n")
        elif tag in _BLOCKS and tag != "tr":  # a row ends where the next one starts
            if tag == "pre":
                self.pre = max(0, self.pre - 1)
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title = (self.title or "") + data
        if self.skip:
            return
        self.emit(sanitize(data if self.pre else re.sub(r"\s+", " ", data)))


def convert_html(source: str, resolve: Resolver, fallback_title: str, home: str = "") -> Converted:
    """HTML: block structure as lines, `<h2>` as `## `, `<li>` as `* `, links kept, scripts dropped."""
    parser = _HtmlText(resolve, home)
    parser.feed(source)
    parser.close()
    title = " ".join((parser.title or "").split()) or parser.h1 or fallback_title
    return Converted(sanitize(title), tidy("".join(parser.out)), parser.table.links)
