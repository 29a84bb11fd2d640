"""The offline corpus the browser searches and opens: a folder of .txt, .md and .html files.

Each file is a page whose URL is its path relative to the folder (`city/transit.md`; `corpus://`
may prefix it). Everything is read once, when the corpus is built; files reached through a
symlink that leads out of the folder are left out, and a reference that normalizes to a path
outside it is refused, so the browser can never show a file that is not in the corpus.
Search ranks pages with BM25 (rank_bm25's Okapi variant) over their title and text.
"""
from __future__ import annotations

import difflib
import posixpath
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from urllib.parse import unquote, urlsplit

from rank_bm25 import BM25Okapi

from harness.agent.tools.base import ToolError
from harness.agent.tools.browser.markup import Converted, Resolver, convert_html, convert_markdown, convert_text
from harness.agent.tools.browser.page import Page, strip_links

URL_SCHEME = "corpus://"
SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
SNIPPET_CHARS = 200


def default_root() -> Path:
    """The small corpus that ships with the harness (harness/data/corpus)."""
    return Path(str(files("harness").joinpath("data", "corpus")))


# Function words: in a small corpus they are rare enough to outweigh the words that matter.
_STOPWORD_TEXT = """
a about after all also am an and any are as at be been before being but by can could did do
does doing for from had has have having he her here hers him his how i if in into is it its
just me more most my no nor not of off on once only or other our ours out over own same she
should so some such than that the their theirs them then there these they this those through
to too under until up very was we were what when where which while who whom why will with
would you your yours many much
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def tokens(text: str) -> list[str]:
    """Lower-cased words of the text as a reader sees it (link markup and stopwords removed)."""
    return [w for w in re.findall(r"\w+", strip_links(text).lower()) if w not in STOPWORDS]


@dataclass(frozen=True)
class Hit:
    """A search result: the page, its BM25 score and the line that matches the query best."""

    page: Page
    score: float
    line: int


class Corpus:
    """The pages of a folder, by relative path, and a BM25 index over them."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()
        if not self.root.is_dir():
            raise FileNotFoundError(f"corpus folder {self.root} does not exist")
        real_root = self.root.resolve()
        self.sources: dict[str, str] = {}
        for path in sorted(self.root.rglob("*")):
            rel = path.relative_to(self.root).as_posix()
            if (path.suffix.lower() not in SUFFIXES or not path.is_file()
                    or any(part.startswith(".") for part in rel.split("/"))
                    or not path.resolve().is_relative_to(real_root)):
                continue
            self.sources[rel] = path.read_text(encoding="utf-8", errors="replace")
        self.pages: dict[str, Page] = {rel: self._page(rel) for rel in self.sources}
        self._terms = [set(self._index_tokens(p)) for p in self.pages.values()]
        self._bm25 = BM25Okapi([self._index_tokens(p) for p in self.pages.values()]) if self.pages else None

    @staticmethod
    def _index_tokens(page: Page) -> list[str]:
        return tokens(page.title) * 2 + tokens("\n".join(page.lines))

    def normalize(self, ref: str, base: str = "") -> str | None:
        """The corpus path a reference names (relative to the page `base`), None if outside."""
        ref = ref.strip()
        if ref.startswith(URL_SCHEME):
            ref = "/" + ref[len(URL_SCHEME):]
        path = unquote(urlsplit(ref).path)
        joined = path.lstrip("/") if path.startswith("/") else posixpath.join(posixpath.dirname(base), path)
        norm = posixpath.normpath(joined) if joined else "."
        if norm in (".", "..") or norm.startswith("../"):
            return None
        return norm

    def _resolver(self, base: str) -> Resolver:
        def resolve(href: str) -> str | None:
            scheme = urlsplit(href).scheme.lower()
            if scheme in ("http", "https"):
                return href
            if (scheme and not href.startswith(URL_SCHEME)) or href.startswith("#"):
                return None  # mailto:, javascript:, file:, in-page anchors
            target = self.normalize(href, base)
            return target if target in self.sources else None
        return resolve

    def _page(self, rel: str) -> Page:
        source, stem = self.sources[rel], posixpath.basename(rel).rsplit(".", 1)[0]
        suffix = posixpath.splitext(rel)[1].lower()
        conv: Converted
        if suffix in (".html", ".htm"):
            conv = convert_html(source, self._resolver(rel), stem)
        elif suffix in (".md", ".markdown"):
            conv = convert_markdown(source, self._resolver(rel), stem)
        else:
            conv = convert_text(source, stem)
        return Page.from_text(rel, conv.title, conv.text, conv.links)

    def page(self, ref: str, view_source: bool = False) -> Page:
        """The page a reference names; ToolError for a path outside the corpus or not in it."""
        rel = self.normalize(ref)
        if rel is None:
            raise ToolError(f"`{ref}` is outside the corpus")
        if rel not in self.pages:
            close = difflib.get_close_matches(rel, list(self.pages), n=3)
            hint = f"; did you mean {', '.join(f'`{c}`' for c in close)}?" if close else ""
            raise ToolError(f"No document `{ref}` in the corpus{hint}")
        if view_source:
            return Page.from_text(f"view-source:{rel}", self.pages[rel].title, self.sources[rel],
                                  kind="source")
        return self.pages[rel]

    def search(self, query: str, topn: int) -> list[Hit]:
        """The `topn` pages sharing a word with the query, best BM25 score first."""
        terms = tokens(query)
        if not terms:
            raise ToolError(f"The query `{query}` has no words to search for.")
        if self._bm25 is None:
            return []
        scores = self._bm25.get_scores(terms)
        wanted = set(terms)
        ranked = sorted(((float(s), url) for s, url, have in zip(scores, self.pages, self._terms)
                         if wanted & have), key=lambda t: (-t[0], t[1]))
        return [Hit(self.pages[url], score, best_line(self.pages[url], wanted))
                for score, url in ranked[:topn]]


def best_line(page: Page, terms: set[str]) -> int:
    """The line where the passage that holds the most distinct query words starts.

    A passage is a line that matches and the line after it (a sentence often wraps); a heading
    loses a tie to body text, an earlier line a tie to a later one.
    """
    found = [terms & set(tokens(line)) for line in page.lines] + [set()]

    def rank(i: int) -> tuple[int, bool, int]:
        passage = len(found[i] | found[i + 1]) if found[i] else 0
        return passage, not page.lines[i].lstrip().startswith("#"), -i

    return max(range(len(page.lines)), key=rank)


def results_page(query: str, hits: list[Hit]) -> Page:
    """The search result page: one `【i†title】 url` link per hit with the passage that matched."""
    entries: list[str] = []
    for i, hit in enumerate(hits):
        passage = " ".join(strip_links(line).strip() for line in hit.page.lines[hit.line:hit.line + 2])
        if len(passage) > SNIPPET_CHARS:
            passage = passage[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"
        entries.append(f"* 【{i}†{hit.page.title}】 {hit.page.url}\n  {passage}")
    body = "\n".join(entries) if entries else f"No results found for `{query}`."
    return Page.from_text("", f"Search results for `{query}`", f"# Search Results\n\n{body}",
                          links={i: h.page.url for i, h in enumerate(hits)},
                          anchors={i: h.line for i, h in enumerate(hits)}, kind="search")
