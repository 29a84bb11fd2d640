"""The live web backend's address filter and redirect checks (no network: a mock transport)."""
from __future__ import annotations

import json

import httpx
import pytest

from harness.agent.tools.base import ToolError, Toolset
from harness.agent.tools.browser import Browser, LiveWeb, check_public_url

PUBLIC = "93.184.216.34"


def no_dns(host: str) -> list[str]:
    raise AssertionError(f"resolved {host}")


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://127.1.2.3:8080/x", "http://[::1]/", "http://[::ffff:127.0.0.1]/",
    "http://10.0.0.5/", "http://172.16.3.4/", "http://192.168.1.1/admin",
    "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/", "http://0.0.0.0/",
    "http://100.64.0.1/", "http://224.0.0.1/", "http://[fc00::1]/", "http://240.0.0.1/",
    "http://localhost/", "http://LOCALHOST.:8000/", "http://app.localhost/",
    "file:///etc/passwd", "ftp://93.184.216.34/", "gopher://93.184.216.34/", "http:///path",
])
def test_refuses_non_public_and_non_http_urls(url: str) -> None:
    with pytest.raises(ToolError):
        check_public_url(url, resolve=no_dns)


@pytest.mark.parametrize("url", [f"http://{PUBLIC}/", "https://8.8.8.8/a?b=c",
                                 "http://[2606:4700:4700::1111]/"])
def test_allows_public_ip_literals(url: str) -> None:
    check_public_url(url, resolve=no_dns)


def test_every_resolved_address_must_be_public() -> None:
    check_public_url("https://example.org/", resolve=lambda host: [PUBLIC])
    for addresses in (["10.1.1.1"], [PUBLIC, "127.0.0.1"], ["::1"], []):
        with pytest.raises(ToolError):
            check_public_url("https://example.org/", resolve=lambda host, a=addresses: a)


def test_a_host_that_does_not_resolve_is_an_error() -> None:
    with pytest.raises(ToolError, match="cannot resolve"):
        check_public_url("http://no-such-host.invalid/")


def mock_web(pages: dict[str, httpx.Response], seen: list[str]) -> LiveWeb:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return pages[str(request.url)]
    return LiveWeb(httpx.Client(transport=httpx.MockTransport(handler)), resolve=no_dns)


def test_redirects_are_checked_before_they_are_followed() -> None:
    seen: list[str] = []
    web = mock_web({f"http://{PUBLIC}/": httpx.Response(302, headers={"location": "http://127.0.0.1/"})}, seen)
    with pytest.raises(ToolError, match=r"127.0.0.1"):
        web.fetch(f"http://{PUBLIC}/")
    assert seen == [f"http://{PUBLIC}/"]


def test_fetches_a_public_page_through_the_browser() -> None:
    seen: list[str] = []
    html = ("<html><head><title>Example</title></head><body><p>Hello <a href='/next'>next</a>"
            " and <a href='http://8.8.8.8/'>there</a></p></body></html>")
    web = mock_web({
        f"http://{PUBLIC}/": httpx.Response(301, headers={"location": "/home"}),
        f"http://{PUBLIC}/home": httpx.Response(200, html=html),
        f"http://{PUBLIC}/missing": httpx.Response(404),
    }, seen)
    browser = Browser(live=web)
    ts = Toolset([browser])
    res = ts.call("browser.open", json.dumps({"id": f"http://{PUBLIC}/"}))
    assert res.ok, res.text
    assert res.text.startswith(f"[0] Example (http://{PUBLIC}/home)")
    assert "【0†next】" in res.text and "【1†there†8.8.8.8】" in res.text
    assert browser.stack[0].links[0] == f"http://{PUBLIC}/next"
    assert ts.call("browser.open", json.dumps({"id": f"http://{PUBLIC}/missing"})).error == "tool_error"
    assert ts.call("browser.open", json.dumps({"id": "http://10.0.0.1/"})).error == "tool_error"
    assert seen == [f"http://{PUBLIC}/", f"http://{PUBLIC}/home", f"http://{PUBLIC}/missing"]


def test_too_many_redirects() -> None:
    loop = httpx.Response(302, headers={"location": f"http://{PUBLIC}/"})
    web = mock_web({f"http://{PUBLIC}/": loop}, [])
    with pytest.raises(ToolError, match="redirects"):
        web.fetch(f"http://{PUBLIC}/")
