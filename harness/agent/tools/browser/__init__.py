"""The browser tool (gpt-oss's built-in `browser` namespace) over an offline corpus.

page: pages, wrapping, the viewing window and find; markup: HTML/Markdown/text to browser text;
corpus: the folder of documents and its BM25 search; live: the optional, filtered live web;
tool: the `Browser` tool and its page stack.
"""
from harness.agent.tools.browser.corpus import Corpus, default_root
from harness.agent.tools.browser.live import LiveWeb, check_public_url
from harness.agent.tools.browser.tool import Browser

__all__ = ["Browser", "Corpus", "LiveWeb", "check_public_url", "default_root"]
