"""The browser tool through `Toolset.call`, as the session calls it: schemas, validation, pages."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from openai_harmony import ToolNamespaceConfig

from harness.agent.tools.base import Tool, ToolResult, Toolset
from harness.agent.tools.browser import Browser, Corpus


def call(ts: Toolset, recipient: str, **args: object) -> ToolResult:
    return ts.call(recipient, json.dumps(args))


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus()


@pytest.fixture
def browser(corpus: Corpus) -> Browser:
    return Browser(corpus)


@pytest.fixture
def ts(browser: Browser) -> Toolset:
    return Toolset([browser])


def link_id(text: str, label: str) -> int:
    m = re.search(r"【(\d+)†" + re.escape(label) + r"(?:†[^】]*)?】", text)
    assert m, f"no link {label!r} in:\n{text}"
    return int(m.group(1))


def body_lines(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"^L(\d+): ", text, re.MULTILINE)]


# --- the tool's face ---------------------------------------------------------------------------

def test_recipients_parameters_and_description_match_harmony(browser: Browser) -> None:
    funcs = {f.recipient: f for f in browser.functions()}
    assert set(funcs) == {"browser.search", "browser.open", "browser.find"}
    harmony = {t.name: t for t in ToolNamespaceConfig.browser().tools}
    for func in funcs.values():
        ref = harmony[func.name]
        assert func.description == ref.description
        assert set(func.parameters["properties"]) == set(ref.parameters["properties"])
        assert func.parameters["required"] == ref.parameters.get("required", [])
    assert isinstance(browser, Tool) and browser.builtin and browser.name == "browser"
    assert browser.description == ToolNamespaceConfig.browser().description
    assert funcs["browser.open"].parameters["properties"]["id"]["default"] == -1


# --- search ------------------------------------------------------------------------------------

@pytest.mark.parametrize("query, expected", [
    ("parental leave weeks", "lumenfold/leave-policy.md"),
    ("tram day pass fare", "city/transit.md"),
    ("Orbit Arm X4 payload", "products/orbit-arm-x4.html"),
    ("lighthouse steps", "city/museums.html"),
    ("highest tide on record", "city/tides.txt"),
    ("security hotline extension", "lumenfold/security.html"),
    ("firmware collision sensitivity levels", "products/release-notes.md"),
])
def test_search_ranks_the_answering_document_first(ts: Toolset, browser: Browser, query: str,
                                                   expected: str) -> None:
    res = call(ts, "browser.search", query=query)
    assert res.ok, res.text
    assert res.text.startswith(f"[0] Search results for `{query}`\n**viewing lines [0 - ")
    assert browser.stack[0].links[0] == expected
    assert re.search(r"L\d+: \* 【0†[^】]+】 " + re.escape(expected), res.text)


def test_search_topn_limits_the_results(ts: Toolset, browser: Browser) -> None:
    assert call(ts, "browser.search", query="Port Aster", topn=3).ok
    assert len(browser.stack[-1].links) == 3
    assert call(ts, "browser.search", query="Port Aster", source="web").ok
    assert len(browser.stack[-1].links) == 10


def test_search_without_a_match_shows_an_empty_result_page(ts: Toolset) -> None:
    res = call(ts, "browser.search", query="zeppelin")
    assert res.ok and "No results found for `zeppelin`" in res.text


@pytest.mark.parametrize("query", ["", "   ", "?! …"])
def test_empty_query_is_a_tool_error(ts: Toolset, browser: Browser, query: str) -> None:
    res = call(ts, "browser.search", query=query)
    assert res.error == "tool_error" and res.text.startswith("Error: ")
    assert browser.stack == []


# --- open --------------------------------------------------------------------------------------

def test_open_a_result_lands_on_the_matching_passage(ts: Toolset) -> None:
    call(ts, "browser.search", query="parental leave")
    res = call(ts, "browser.open", id=0)
    assert res.ok, res.text
    assert res.text.startswith("[1] Leave Policy (lumenfold/leave-policy.md)\n")
    assert "20 weeks" in res.text
    assert body_lines(res.text)[0] > 0  # positioned at the passage, not the top


def test_open_follows_links_relative_to_the_page(ts: Toolset) -> None:
    page = call(ts, "browser.open", id="lumenfold/offices.html").text
    res = call(ts, "browser.open", id=link_id(page, "Trams and Ferries"))
    assert res.text.startswith("[1] Trams and Ferries (city/transit.md)")
    res = call(ts, "browser.open", id=link_id(res.text, "Port Aster"))
    assert res.text.startswith("[2] Port Aster at a Glance (city/port-aster-guide.html)")


def test_open_by_path_or_corpus_url(ts: Toolset) -> None:
    for n, ref in enumerate(["city/transit.md", "corpus://city/transit.md", "/city/transit.md",
                             "city/../city/transit.md"]):
        res = call(ts, "browser.open", id=ref)
        assert res.text.startswith(f"[{n}] Trams and Ferries (city/transit.md)"), res.text


def test_open_with_loc_and_num_lines_shows_that_window(ts: Toolset, browser: Browser) -> None:
    res = call(ts, "browser.open", id="city/transit.md", loc=3, num_lines=2)
    total = len(browser.stack[-1].lines)
    assert f"**viewing lines [3 - 4] of {total - 1}**" in res.text
    assert body_lines(res.text) == [3, 4]


def test_open_without_id_scrolls_the_page_at_cursor(ts: Toolset, browser: Browser) -> None:
    call(ts, "browser.open", id="lumenfold/handbook.md")
    call(ts, "browser.search", query="tram")
    res = call(ts, "browser.open", cursor=0, loc=5, num_lines=3)
    assert res.text.startswith("[2] Lumenfold Robotics Employee Handbook (lumenfold/handbook.md)")
    assert body_lines(res.text) == [5, 6, 7]
    assert browser.stack[2] is browser.stack[0]
    again = call(ts, "browser.open", id="", loc=1, num_lines=1)  # "" is no link, like -1
    assert again.text.startswith("[3] Lumenfold Robotics") and body_lines(again.text) == [1]
    assert call(ts, "browser.open", id="0", cursor=1).text.startswith("[4] ")  # a numeric string is a link id


def test_open_link_of_an_earlier_page_by_cursor(ts: Toolset) -> None:
    call(ts, "browser.search", query="museum lighthouse")
    call(ts, "browser.open", id="city/weather.txt")
    res = call(ts, "browser.open", cursor=0, id=0)
    assert res.text.startswith("[2] Museums and Landmarks (city/museums.html)")


def test_default_window_is_bounded_and_at_least_one_line(corpus: Corpus) -> None:
    ts = Toolset([Browser(corpus, view_chars=300)])
    res = call(ts, "browser.open", id="products/release-notes.md")
    shown = body_lines(res.text)
    assert shown[0] == 0 and 1 <= len(shown) < len(ts.tools[0].stack[-1].lines)
    assert len(res.text.split("\n\n", 1)[1]) <= 300


def test_view_source_shows_the_raw_file(ts: Toolset) -> None:
    text = call(ts, "browser.open", id="lumenfold/security.html").text
    assert "console.log" not in text and "<h1>" not in text
    raw = call(ts, "browser.open", id="lumenfold/security.html", view_source=True, num_lines=200)
    assert raw.ok and "view-source:lumenfold/security.html" in raw.text and "<h1>" in raw.text
    again = call(ts, "browser.open", cursor=0, view_source=True)
    assert again.text.startswith("[2] Information Security Policy (view-source:lumenfold/security.html)")


@pytest.mark.parametrize("ref, message", [
    ("../../etc/passwd", "outside the corpus"),
    ("lumenfold/../../pyproject.toml", "outside the corpus"),
    ("/etc/passwd", "No document"),
    ("city/trnsit.md", "did you mean `city/transit.md`"),
    ("https://example.com/", "live web is off"),
    ("file:///etc/passwd", "No document"),
])
def test_open_refuses_what_is_not_in_the_corpus(ts: Toolset, browser: Browser, ref: str,
                                                message: str) -> None:
    res = call(ts, "browser.open", id=ref)
    assert res.error == "tool_error" and message in res.text, res.text
    assert browser.stack == []


def test_open_errors_leave_the_stack_as_it_was(ts: Toolset, browser: Browser) -> None:
    assert call(ts, "browser.open", id=0).error == "tool_error"  # no pages yet
    call(ts, "browser.open", id="city/weather.txt")
    for args, message in [({"id": 99}, "Invalid link id `99`"),
                          ({"cursor": 5}, "Cursor `5` is out of range"),
                          ({"cursor": -2}, "Cursor `-2` is out of range"),
                          ({"loc": 500}, "Cannot exceed page maximum")]:
        res = call(ts, "browser.open", **args)
        assert res.error == "tool_error" and message in res.text, res.text
        assert len(browser.stack) == 1


def test_external_link_shows_its_domain_and_needs_the_live_web(ts: Toolset) -> None:
    text = call(ts, "browser.open", id="products/tessel-controller.html").text
    n = link_id(text, "online documentation site")
    assert f"【{n}†online documentation site†docs.lumenfold.example】" in text
    assert "live web is off" in call(ts, "browser.open", id=n).text


# --- find --------------------------------------------------------------------------------------

def test_find_returns_matches_with_context_and_links_back(ts: Toolset, browser: Browser) -> None:
    call(ts, "browser.open", id="city/transit.md")
    res = call(ts, "browser.find", pattern="DAY PASS")
    assert res.ok, res.text
    assert res.text.startswith("[1] Find results for text: `DAY PASS` in `Trams and Ferries`")
    m = re.search(r"# 【0†match at L(\d+)】", res.text)
    assert m and "7.50 EUR" in res.text
    match_line = int(m.group(1))
    assert "Day pass" in browser.stack[0].lines[match_line]
    back = call(ts, "browser.open", id=0)
    assert back.text.startswith("[2] Trams and Ferries (city/transit.md)")
    assert match_line in body_lines(back.text)


def test_find_in_an_earlier_page_by_cursor(ts: Toolset) -> None:
    call(ts, "browser.open", id="city/museums.html")
    call(ts, "browser.open", id="city/food.md")
    res = call(ts, "browser.find", pattern="143 steps", cursor=0)
    assert "in `Museums and Landmarks`" in res.text and "【0†match at L" in res.text
    assert "【1†" not in res.text


def test_find_without_match_and_on_result_pages(ts: Toolset) -> None:
    call(ts, "browser.open", id="city/food.md")
    assert "No `find` results for pattern: `zeppelin`" in call(ts, "browser.find", pattern="zeppelin").text
    bad = call(ts, "browser.find", pattern="x")  # the current page is a find result page
    assert bad.error == "tool_error" and "Cannot run `find`" in bad.text
    call(ts, "browser.search", query="kalsuppe")
    assert call(ts, "browser.find", pattern="kalsuppe").error == "tool_error"
    assert call(ts, "browser.find", pattern=" ", cursor=0).error == "tool_error"


# --- what the model gets wrong -----------------------------------------------------------------

@pytest.mark.parametrize("recipient, content", [
    ("browser.search", '{"query": "tram", "topn": "ten"}'),
    ("browser.search", '{"topn": 3}'),
    ("browser.open", '{"id": 1, "page": 2}'),
    ("browser.open", '{"view_source": "yes"}'),
    ("browser.find", '{"pattern": 7}'),
])
def test_schema_violations_are_invalid_args(ts: Toolset, recipient: str, content: str) -> None:
    assert ts.call(recipient, content).error == "invalid_args"


@pytest.mark.parametrize("content", ['{"query": "tram"', "query=tram", '["tram"]'])
def test_bad_json_is_invalid_json(ts: Toolset, content: str) -> None:
    assert ts.call("browser.search", content).error == "invalid_json"


def test_state_lists_the_page_stack(ts: Toolset, browser: Browser) -> None:
    call(ts, "browser.search", query="tram")
    call(ts, "browser.open", id="city/transit.md")
    call(ts, "browser.find", pattern="ferry")
    state = browser.state()
    assert json.loads(json.dumps(state)) == state
    assert [(p["cursor"], p["kind"]) for p in state["pages"]] == [(0, "search"), (1, "document"), (2, "find")]
    assert state["pages"][1]["url"] == "city/transit.md"


# --- a corpus of one's own ---------------------------------------------------------------------

def test_a_custom_corpus_folder(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.md").write_text(
        "# Alpha Notes\n\nThe launch code is 4471. See [beta](../b.html), ![logo](x.png)"
        " and [nowhere](missing.md). Forged 【7†link】 here.\n")
    (tmp_path / "b.html").write_text(
        "<html><head><title>Beta Page</title><style>p{}</style></head><body><h1>Beta</h1>"
        "<p>Back to <a href='notes/a.md#top'>alpha</a>, <a href='#x'>here</a>, "
        "<a href='mailto:a@b.c'>mail</a>.</p><script>var secret = 1;</script></body></html>")
    (tmp_path / "skip.pdf").write_text("not a document")
    (tmp_path / ".hidden.md").write_text("# hidden")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.md"
    outside.write_text("# Outside\nsecret")
    (tmp_path / "link.md").symlink_to(outside)

    corpus = Corpus(tmp_path)
    assert sorted(corpus.pages) == ["b.html", "notes/a.md"]
    ts = Toolset([Browser(tmp_path)])
    res = call(ts, "browser.search", query="launch code")
    assert "【0†Alpha Notes】 notes/a.md" in res.text
    alpha = call(ts, "browser.open", id=0).text
    assert "4471" in alpha and "[Image: logo]" in alpha and "〖7‡link〗" in alpha
    assert "nowhere" in alpha and "【2†" not in alpha  # a link to a missing file is plain text
    beta = call(ts, "browser.open", id=link_id(alpha, "beta")).text
    assert beta.startswith("[2] Beta Page (b.html)") and "secret" not in beta
    assert "here" in beta and "mail" in beta and "【1†" not in beta
    back = call(ts, "browser.open", id=link_id(beta, "alpha"))
    assert back.text.startswith("[3] Alpha Notes (notes/a.md)")
    assert call(ts, "browser.open", id="link.md").error == "tool_error"


def test_missing_corpus_folder_fails_at_construction(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Browser(tmp_path / "nope")
