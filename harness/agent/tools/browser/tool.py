"""The browser tool: gpt-oss's built-in `browser.search` / `browser.open` / `browser.find`.

Semantics follow openai/gpt-oss's reference browser: every call pushes a page on a stack and
shows it as `[cursor] title (url)` with numbered lines; `cursor` -1 is the most recent page;
`open(id=N)` follows link N of the page at `cursor`, `open(id="path or URL")` opens that address,
and `open()` without an id scrolls the page at `cursor` to `loc`. A call that cannot be shown
(a `loc` past the end) leaves the stack as it was. Pages come from the offline corpus; the live
web is used only when the browser is built with `live=True`, and only for http(s) addresses.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from openai_harmony import ToolNamespaceConfig

from harness.agent.tools.base import Function, ToolError, function
from harness.agent.tools.browser.corpus import Corpus, results_page
from harness.agent.tools.browser.live import LiveWeb
from harness.agent.tools.browser.page import VIEW_CHARS, Page, find_in_page, render

NAMESPACE = ToolNamespaceConfig.browser()
MAX_SEARCH_RESULTS = 20
VIEW_SOURCE = "view-source:"


def _harmony_description(name: str) -> str:
    """The description openai-harmony gives the built-in browser function `name`."""
    description: str = next(t.description for t in NAMESPACE.tools if t.name == name)
    return description


class Browser:
    """Search, open and find over an offline corpus, with a page stack addressed by cursors."""

    name = "browser"
    builtin = True
    description: str = NAMESPACE.description or ""

    def __init__(self, corpus: str | Path | Corpus | None = None, *, live: bool | LiveWeb = False,
                 view_chars: int = VIEW_CHARS, max_results: int = MAX_SEARCH_RESULTS) -> None:
        self.corpus = corpus if isinstance(corpus, Corpus) else Corpus(corpus)
        self.live: LiveWeb | None = LiveWeb() if live is True else (live or None)
        self.view_chars = view_chars
        self.max_results = max_results
        self.stack: list[Page] = []

    def functions(self) -> list[Function]:
        return [function(fn, f"browser.{fn.__name__}", description=_harmony_description(fn.__name__))
                for fn in (self.search, self.open, self.find)]

    def state(self) -> dict[str, Any]:
        """The page stack: cursor, URL, title and kind of every page shown."""
        return {"pages": [{"cursor": i, "url": p.url, "title": p.title, "kind": p.kind}
                          for i, p in enumerate(self.stack)]}

    # --- the functions the model calls -----------------------------------------------------------

    def search(self, query: str, topn: int = 10, source: str | None = None) -> str:
        """Searches for information related to `query` and displays `topn` results.

        Args:
            query: What to search for.
            topn: How many results to show (at most 20).
            source: The source to search; only the offline corpus exists, so it is ignored.
        """
        if not query.strip():
            raise ToolError("The search query is empty.")
        hits = self.corpus.search(query, max(1, min(int(topn), self.max_results)))
        return self._show(results_page(query, hits), loc=0, num_lines=-1)

    def open(self, id: int | str = -1, cursor: int = -1, loc: int = -1, num_lines: int = -1,
             view_source: bool = False, source: str | None = None) -> str:
        """Opens the link `id` from the page indicated by `cursor` starting at line number `loc`,
        showing `num_lines` lines.

        Args:
            id: A link id of the page at `cursor`, or a document path or URL; -1 scrolls that page.
            cursor: The page to act on; -1 is the most recent page.
            loc: The first line to show; -1 starts at the top or at the passage a link points to.
            num_lines: How many lines to show; -1 shows a window of about 1000 tokens.
            view_source: Show the raw source of the document instead of its text.
            source: The source of a URL `id`; only the offline corpus exists, so it is ignored.
        """
        anchor: int | None = None
        if isinstance(id, str) and not id.strip():
            id = -1  # models sometimes send "" for "no link"
        if isinstance(id, str) and not id.strip().lstrip("-").isdigit():
            page = self._fetch(id.strip(), view_source)
        else:
            link_id, current = int(id), self._page(cursor)
            if link_id >= 0:
                if link_id not in current.links:
                    raise ToolError(f"Invalid link id `{link_id}`.")
                anchor = current.anchors.get(link_id)
                page = self._fetch(current.links[link_id], view_source)
            elif view_source:
                page = self._fetch(current.url, True)
            else:
                page = current
        if loc < 0:
            loc = anchor - 4 if anchor is not None and anchor > 4 else (anchor or 0)
        return self._show(page, int(loc), int(num_lines))

    def find(self, pattern: str, cursor: int = -1) -> str:
        """Finds exact matches of `pattern` in the current page, or the page given by `cursor`.

        Args:
            pattern: The text to look for (case-insensitive).
            cursor: The page to search; -1 is the most recent page.
        """
        if not pattern.strip():
            raise ToolError("The find pattern is empty.")
        page = self._page(cursor)
        if page.kind in ("search", "find"):
            raise ToolError("Cannot run `find` on search results page or find results page")
        return self._show(find_in_page(page, pattern), loc=0, num_lines=-1)

    # --- the page stack --------------------------------------------------------------------------

    def _page(self, cursor: int) -> Page:
        cursor = int(cursor)
        if not self.stack:
            raise ToolError("No pages to access! Run `search` or `open` a document first.")
        if cursor == -1:
            return self.stack[-1]
        if not 0 <= cursor < len(self.stack):
            raise ToolError(f"Cursor `{cursor}` is out of range. "
                            f"Available cursor indices: [0 - {len(self.stack) - 1}].")
        return self.stack[cursor]

    def _show(self, page: Page, loc: int, num_lines: int) -> str:
        """Push `page` and render it; a page that cannot be rendered is not kept."""
        self.stack.append(page)
        try:
            return render(page, len(self.stack) - 1, loc, num_lines, self.view_chars)
        except ToolError:
            self.stack.pop()
            raise

    def _fetch(self, ref: str, view_source: bool) -> Page:
        if ref.startswith(VIEW_SOURCE):
            ref, view_source = ref[len(VIEW_SOURCE):], True
        if not ref:
            raise ToolError("This page has no address to open.")
        if ref.lower().startswith(("http://", "https://")):
            if self.live is None:
                raise ToolError(f"`{ref}` is not in the offline corpus and the live web is off; "
                                "use `search` to find documents.")
            return self.live.fetch(ref, view_source)
        return self.corpus.page(ref, view_source)
