"""The live web backend of the browser: off by default, public http(s) addresses only.

`check_public_url` refuses every scheme but http and https, `localhost` names, and any host with
an address that is loopback, private, link-local, reserved, multicast, unspecified or otherwise
not globally reachable (IPv4-mapped IPv6 addresses are checked as their IPv4 address). Every
address the host resolves to is checked, and again for each redirect, which the backend follows
itself. What remains open is DNS rebinding between the check and the connection (httpx resolves
the name again); the check is a guard against a model's mistakes, not against a hostile DNS.
"""
from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

import httpx

from harness.agent.tools.base import ToolError
from harness.agent.tools.browser.markup import convert_html, convert_text
from harness.agent.tools.browser.page import Page

Resolve = Callable[[str], list[str]]  # host -> its IP addresses

MAX_REDIRECTS = 5
MAX_BYTES = 2_000_000
TIMEOUT_S = 10.0


def resolve_host(host: str) -> list[str]:
    """Every address `host` resolves to (getaddrinfo, both families)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise ToolError(f"cannot resolve host `{host}`: {exc}") from None
    return [str(info[4][0]) for info in infos]


def is_public(address: str) -> bool:
    """True for a globally reachable unicast address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_loopback
                                 or ip.is_link_local or ip.is_private or ip.is_unspecified)


def check_public_url(url: str, resolve: Resolve = resolve_host) -> None:
    """ToolError unless `url` is http(s) to a host whose every address is public."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ToolError(f"only http and https URLs can be opened, not `{url}`")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise ToolError(f"no host in URL `{url}`")
    if host == "localhost" or host.endswith(".localhost"):
        raise ToolError(f"refusing to open `{url}`: {host} is a local address")
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        addresses = resolve(host)
    if not addresses:
        raise ToolError(f"cannot resolve host `{host}`")
    for address in addresses:
        if not is_public(address):
            raise ToolError(f"refusing to open `{url}`: {host} resolves to {address}, "
                            "which is not a public address")


class LiveWeb:
    """Fetches public web pages (no search engine: search stays on the corpus)."""

    def __init__(self, client: httpx.Client | None = None, resolve: Resolve = resolve_host,
                 max_bytes: int = MAX_BYTES) -> None:
        self.client = client or httpx.Client(timeout=TIMEOUT_S, trust_env=False,
                                             headers={"User-Agent": "gpt-oss-harness-browser"})
        self.resolve = resolve
        self.max_bytes = max_bytes

    def fetch(self, url: str, view_source: bool = False) -> Page:
        """The page at `url`, following up to MAX_REDIRECTS redirects, each one checked."""
        for _ in range(MAX_REDIRECTS + 1):
            check_public_url(url, self.resolve)
            try:
                with self.client.stream("GET", url, follow_redirects=False) as resp:
                    if resp.is_redirect and "location" in resp.headers:
                        url = urljoin(url, resp.headers["location"])
                        continue
                    if resp.status_code >= 400:
                        raise ToolError(f"Error fetching URL `{url}`: HTTP {resp.status_code}")
                    body = self._read(resp)
                    kind = resp.headers.get("content-type", "")
            except httpx.HTTPError as exc:
                raise ToolError(f"Error fetching URL `{url}`: {exc}") from None
            return self._page(url, body, kind, view_source)
        raise ToolError(f"Error fetching URL `{url}`: more than {MAX_REDIRECTS} redirects")

    def _read(self, resp: httpx.Response) -> str:
        chunks, size = [], 0
        for chunk in resp.iter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size >= self.max_bytes:
                break
        return b"".join(chunks)[: self.max_bytes].decode(resp.encoding or "utf-8", errors="replace")

    @staticmethod
    def _page(url: str, body: str, content_type: str, view_source: bool) -> Page:
        if view_source:
            return Page.from_text(f"view-source:{url}", url, body, kind="source")
        home = urlsplit(url).netloc

        def resolve(href: str) -> str | None:
            target = urljoin(url, href)
            return target if urlsplit(target).scheme in ("http", "https") and not href.startswith("#") else None

        conv = (convert_html(body, resolve, home, home) if "html" in content_type or not content_type
                else convert_text(body, home))
        return Page.from_text(url, conv.title, conv.text, conv.links)
