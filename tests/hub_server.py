"""A loopback imitation of the Hugging Face Hub's file API (127.0.0.1, a free port) for pull tests.

What huggingface_hub and harness.models.hub ask of it, answered as the hub answers:
  GET  /api/models/{repo}/revision/{rev}      {"id", "sha": commit, "siblings": [{"rfilename"}]}
  POST /api/models/{repo}/paths-info/{rev}    [{"type": "file", "path", "size", "oid", "lfs": {"oid": sha256, ...}}]
  HEAD|GET /{repo}/resolve/{rev}/{file}       302 to the CDN, with X-Repo-Commit, ETag, X-Linked-Etag,
                                              X-Linked-Size and Location (an LFS file's answer)
  GET  /cdn/{repo}/{file}                     the bytes; Range: bytes=N- gives 206 and Content-Range
A missing repo, revision or file gets the hub's 404 with X-Error-Code (RepoNotFound, RevisionNotFound,
EntryNotFound). Faults for tests: `drop_first` files break off halfway on their first CDN GET,
`stall_first` ones send half and wait for `release`, `corrupt` ones are served with a byte flipped.
"""
from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class FakeHub:
    repos: dict[str, dict[str, bytes]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    drop_first: set[str] = field(default_factory=set)
    stall_first: set[str] = field(default_factory=set)
    corrupt: set[str] = field(default_factory=set)
    release: threading.Event = field(default_factory=threading.Event)
    stalled: threading.Event = field(default_factory=threading.Event)
    sent_before_break: dict[str, int] = field(default_factory=dict)
    _server: ThreadingHTTPServer | None = None

    def add(self, repo: str, path: str, data: bytes) -> None:
        self.repos.setdefault(repo, {})[path] = data

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def cdn_gets(self) -> list[Seen]:
        return [r for r in self.requests if r.method == "GET" and r.path.startswith("/cdn/")]

    def __enter__(self) -> Self:
        hub = self

        class Handler(_Handler):
            state = hub
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: FakeHub

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj: Any) -> None:
        self._send(200, json.dumps(obj).encode(), {"Content-Type": "application/json"})

    def _error(self, code: str, msg: str) -> None:
        self._send(404, json.dumps({"error": msg}).encode(),
                   {"Content-Type": "application/json", "X-Error-Code": code, "X-Error-Message": msg})

    def _repo(self, repo: str, rev: str | None) -> dict[str, bytes] | None:
        files = self.state.repos.get(repo)
        if files is None:
            self._error("RepoNotFound", "Repository not found")
        elif rev is not None and rev not in ("main", COMMIT):
            self._error("RevisionNotFound", "Invalid rev id: " + rev)
            return None
        return files

    def _route(self) -> None:
        path = unquote(urlsplit(self.path).path)
        self.state.requests.append(Seen(self.command, path, dict(self.headers.items())))
        if m := re.fullmatch(r"/api/models/([^/]+/[^/]+)/revision/([^/]+)", path):
            if (files := self._repo(m[1], m[2])) is not None:
                self._json({"id": m[1], "sha": COMMIT, "siblings": [{"rfilename": f} for f in sorted(files)]})
        elif m := re.fullmatch(r"/api/models/([^/]+/[^/]+)/paths-info/([^/]+)", path):
            if (files := self._repo(m[1], m[2])) is not None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                asked = parse_qs(body).get("paths", [])
                self._json([_info(p, files[p]) for p in asked if p in files])
        elif m := re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
            if (files := self._repo(m[1], m[2])) is not None:
                if m[3] not in files:
                    return self._error("EntryNotFound", f"{m[3]} does not exist on {m[2]}")
                data = files[m[3]]
                sha = hashlib.sha256(data).hexdigest()
                self._send(302, b"", {"Location": f"{self.state.url}/cdn/{m[1]}/{m[3]}?X-Amz-Signature=x",
                                      "X-Repo-Commit": COMMIT, "ETag": f'"{_git_oid(data)}"',
                                      "X-Linked-Etag": f'"{sha}"', "X-Linked-Size": str(len(data))})
        elif m := re.fullmatch(r"/cdn/([^/]+/[^/]+)/(.+)", path):
            files = self.state.repos.get(m[1], {})
            if m[2] not in files:
                return self._send(404)
            self._cdn(m[2], files[m[2]])
        else:
            self._send(404)

    def _cdn(self, name: str, data: bytes) -> None:
        if name in self.state.corrupt:
            i = len(data) // 2
            data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:]
        start = 0
        if rng := re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", "")):
            start = int(rng[1])
        body = data[start:]
        self.send_response(206 if start else 200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body)))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if self.command == "HEAD":
            return
        broken = name in self.state.drop_first or name in self.state.stall_first
        if not broken:
            self.wfile.write(body)
            return
        half = len(body) // 2
        self.wfile.write(body[:half])
        self.wfile.flush()
        self.state.sent_before_break[name] = start + half
        if name in self.state.stall_first:
            self.state.stall_first.discard(name)
            self.state.stalled.set()
            self.state.release.wait(60)
        self.state.drop_first.discard(name)
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    do_GET = do_HEAD = do_POST = _route


def _git_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _info(path: str, data: bytes) -> dict[str, Any]:
    return {"type": "file", "path": path, "size": len(data), "oid": _git_oid(data),
            "lfs": {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}}


def fake_gguf(size: int, seed: int = 0) -> bytes:
    """GGUF magic, version 3, then `size - 8` deterministic pseudo-random bytes."""
    import random
    return b"GGUF" + (3).to_bytes(4, "little") + random.Random(seed).randbytes(size - 8)
