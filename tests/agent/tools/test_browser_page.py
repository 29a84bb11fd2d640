"""Window arithmetic and line wrapping of browser pages, as properties."""
from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from harness.agent.tools.browser.page import LINK_RE, numbered, window_end, wrap_lines

line = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"),
               max_size=120)


@given(lines=st.lists(line, min_size=1, max_size=60), data=st.data(),
       view_chars=st.integers(1, 3000))
def test_window_end(lines: list[str], data: st.DataObject, view_chars: int) -> None:
    loc = data.draw(st.integers(0, len(lines) - 1))
    num_lines = data.draw(st.integers(-1, 80))
    end = window_end(lines, loc, num_lines, view_chars)
    assert loc < end <= len(lines)
    if num_lines > 0:
        assert end == min(loc + num_lines, len(lines))
        return
    shown = len(numbered(lines[loc:end], loc)) + 1
    assert shown <= view_chars or end == loc + 1  # within budget, or the one line that must show
    if end < len(lines):  # stopped early: one more line would not have fit
        assert len(numbered(lines[loc:end + 1], loc)) + 1 > view_chars


words = st.text(alphabet="abcdefghij", min_size=1, max_size=12)
link = st.builds(lambda n, ws: f"【{n}†{' '.join(ws)}】", st.integers(0, 99), st.lists(words, min_size=1, max_size=6))


@given(st.lists(st.one_of(words, link), max_size=80))
def test_wrapping_keeps_text_and_never_splits_a_link(parts: list[str]) -> None:
    text = " ".join(parts)
    lines = wrap_lines(text)
    assert "".join(lines) == text
    assert [m.group(0) for ln in lines for m in LINK_RE.finditer(ln)] == \
        [m.group(0) for m in LINK_RE.finditer(text)]
    for ln in lines:
        assert ln.count("【") == ln.count("】")
        if len(ln) > 80:  # only a single unbreakable word or link may overflow
            assert len(re.findall(r"【[^】]*】|\S+", ln.strip())) == 1


def test_wrapping_keeps_empty_lines() -> None:
    assert wrap_lines("a\n\nb") == ["a", "", "b"]
    assert wrap_lines("") == [""]
