"""HTML and Markdown to browser text: structure, links, and what is dropped."""
from __future__ import annotations

from harness.agent.tools.browser.markup import convert_html, convert_markdown, reflow_markdown


def anywhere(href: str) -> str | None:
    if href.startswith(("#", "mailto:")):
        return None
    return href if href.startswith("https://") else f"/{href}"


def test_markdown_paragraphs_are_reflowed_and_blocks_kept() -> None:
    src = ("# Title\nfirst line\nsecond line\n\n- item one\n  continued\n- item two\n\n"
           "| a | b |\n| c | d |\n\n```\ncode 1\ncode 2\n```\n1. step\n    indented code\n")
    assert reflow_markdown(src).split("\n") == [
        "# Title", "first line second line", "", "- item one continued", "- item two", "",
        "| a | b |", "| c | d |", "", "```", "code 1", "code 2", "```", "1. step", "    indented code", ""]


def test_markdown_links_images_and_title() -> None:
    conv = convert_markdown("Intro\n\n# Real Title\n[a](x.md) [b](x.md) [c](#top) ![pic](p.png)",
                            anywhere, "fallback")
    assert conv.title == "Real Title"
    assert "【0†a】 【0†b】 c [Image: pic]" in conv.text  # one id per target
    assert conv.links == {0: "/x.md"}
    assert convert_markdown("no heading", anywhere, "fallback").title == "fallback"


def test_html_structure_and_what_is_dropped() -> None:
    conv = convert_html(
        "<html><head><title> The  Page </title><script>alert(1)</script></head><body>"
        "<nav><a href='home.html'>Home</a></nav><h2>Facts</h2><ul><li>one</li><li>two <b>bold</b></li></ul>"
        "<table><tr><th>k</th><th>v</th></tr><tr><td>x</td><td>1</td></tr></table>"
        "<p>See <a href='https://example.org/a'>there</a>, <a href='mailto:x@y'>mail</a>"
        "<img src='i.png' alt='a chart'><style>p{}</style></p><pre>keep\n  this</pre></body></html>",
        anywhere, "fallback", home="corpus")
    assert conv.title == "The Page"
    assert conv.text.split("\n") == [
        "【0†Home】", "", "## Facts", "", "* one", "* two bold", "", "| k | v", "| x | 1", "",
        "See 【1†there†example.org】, mail[Image: a chart]", "", "keep", "this"]
    assert conv.links == {0: "/home.html", 1: "https://example.org/a"}
    assert "alert" not in conv.text and "p{}" not in conv.text
