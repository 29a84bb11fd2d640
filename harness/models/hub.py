"""The Hugging Face Hub side of `harness models pull`: what a file is, and a transfer that survives.

The hub's file API, as huggingface_hub uses it: `GET {endpoint}/api/models/{repo}/revision/{rev}`
pins the revision to a commit (and lists the repo's files), `POST .../paths-info/{commit}` gives
each file's size and the sha256 of its LFS object, `GET {endpoint}/{repo}/resolve/{commit}/{file}`
serves the bytes (for LFS files through a redirect to a CDN, which honours `Range`). The metadata
calls go through huggingface_hub's HfApi; the transfer is a plain httpx stream, so that a partial
download survives the process: bytes go to `<file>.<sha256 prefix>.incomplete` beside the final
name, a later pull continues it with `Range: bytes=N-`, and the file gets its final name only
after its sha256 matched the hub's. HF_ENDPOINT and HF_TOKEN are read at call time.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

import httpx

DEFAULT_ENDPOINT = "https://huggingface.co"
LIBRARY = "gpt-oss-harness"
ATTEMPTS = 5          # transfer attempts in a row that bring no new byte before a pull gives up
CHUNK = 1 << 20
GGUF_MAGIC = b"GGUF"


class PullError(Exception):
    """A pull that cannot go on; its message is one line naming what and why (exit 2)."""


@dataclass(frozen=True)
class RemoteFile:
    repo: str
    commit: str
    path: str      # inside the repo
    size: int
    sha256: str


def endpoint() -> str:
    """HF_ENDPOINT as it is now (huggingface_hub.constants froze it at import time)."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def gb(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 10**8 else f"{n / 1e6:.1f} MB"


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


@contextmanager
def _hub_errors(repo: str, revision: str) -> Iterator[None]:
    """huggingface_hub's exceptions (multi-line, with URLs and advice) as one-line PullErrors."""
    import httpx2
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        HFValidationError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )
    try:
        yield
    except HFValidationError as exc:
        raise PullError(f"{repo!r} is not a repository id of the hub ({_reason(exc)})") from None
    except GatedRepoError:
        raise PullError(f"{repo} is gated on {endpoint()}: accept its terms on the hub and set HF_TOKEN") from None
    except RepositoryNotFoundError:
        raise PullError(f"{repo}: no such model repository on {endpoint()} (a private one needs HF_TOKEN)") from None
    except RevisionNotFoundError:
        raise PullError(f"{repo}: no revision {revision!r} on {endpoint()}") from None
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else 0
        advice = ("no such model repository there" if status == 404 else
                  "try again later" if status == 429 or status >= 500 else "check the repo and HF_TOKEN")
        raise PullError(f"{endpoint()} answered HTTP {status} about {repo}: {advice}") from None
    except OfflineModeIsEnabled:
        raise PullError("HF_HUB_OFFLINE is set: unset it to download from the hub") from None
    except (httpx2.HTTPError, OSError) as exc:
        raise PullError(f"cannot reach the hub at {endpoint()} ({_reason(exc)}); check the network "
                        "or HF_ENDPOINT") from None
    except (ValueError, KeyError, TypeError) as exc:  # JSON that is not the hub's
        raise PullError(f"{endpoint()} does not answer like the Hugging Face Hub ({_reason(exc)}); "
                        "check HF_ENDPOINT") from None


def resolve(repo: str, files: list[str], revision: str = "main") -> list[RemoteFile]:
    """Size and sha256 of each file of `repo` at `revision` (pinned to its commit), in order."""
    from huggingface_hub import HfApi, constants
    from huggingface_hub.hf_api import RepoFile
    constants.ENDPOINT = endpoint()  # huggingface_hub's own requests (its user-agent registry) go where ours go
    api = HfApi(endpoint=endpoint(), library_name=LIBRARY)
    with _hub_errors(repo, revision):
        info = api.model_info(repo, revision=revision)
        commit = info.sha or revision
        found = {p.path: p for p in api.get_paths_info(repo, files, revision=commit) if isinstance(p, RepoFile)}
    missing = [f for f in files if f not in found]
    if missing:
        ggufs = sorted(s.rfilename for s in info.siblings or () if s.rfilename.endswith(".gguf"))
        listed = ", ".join(ggufs[:6]) + (f", ... ({len(ggufs)} in all)" if len(ggufs) > 6 else "")
        raise PullError(f"{repo}@{commit[:7]} has no file {missing[0]}; "
                        + (f"its GGUF files: {listed}" if ggufs else "it has no GGUF file"))
    out = []
    for f in files:
        lfs = found[f].lfs
        if lfs is None:
            raise PullError(f"{repo}/{f}: the hub gives no sha256 for it (not an LFS file), so it cannot be verified")
        out.append(RemoteFile(repo, commit, f, found[f].size, lfs.sha256))
    return out


def incomplete_path(dest: Path, remote: RemoteFile) -> Path:
    """Where `remote`'s bytes gather before they are verified (never a *.gguf name)."""
    return dest.with_name(f"{dest.name}.{remote.sha256[:16]}.incomplete")


def remaining(remote: RemoteFile, dest: Path) -> int:
    """Bytes still to download for `dest`."""
    if dest.is_file():
        return 0
    part = incomplete_path(dest, remote)
    have = part.stat().st_size if part.is_file() else 0
    return remote.size - have if have <= remote.size else remote.size


def check_space(folder: Path, need: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if free < need:
        raise PullError(f"not enough disk space in {folder}: the pull needs {gb(need)} more, {gb(free)} free")


def download(remote: RemoteFile, dest: Path) -> None:
    """`remote` to `dest`: resumed from its .incomplete file if one is there, verified, renamed."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = incomplete_path(dest, remote)
    for stale in dest.parent.glob(f"{dest.name}.*.incomplete"):
        if stale != part:  # a partial download of another version of the file
            stale.unlink(missing_ok=True)
    have = 0
    try:
        with open(part, "ab") as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise PullError(f"another pull is writing {part}; wait for it to finish") from None
            have = os.fstat(f.fileno()).st_size
            if have > remote.size:
                f.truncate(0)
                have = 0
            check_space(part.parent, remote.size - have)
            have = _transfer(remote, f, have, part)
    except OSError as exc:  # ENOSPC, EDQUOT, a read-only cache, ...
        size = part.stat().st_size if part.is_file() else 0
        kept = f"; {gb(size)} are kept there and the same command resumes once this is fixed" if size else ""
        raise PullError(f"cannot write {part}: {exc.strerror or _reason(exc)}{kept}") from None
    except httpx.HTTPError as exc:  # not a broken stream (those are retried): redirects, a bad URL, ...
        raise PullError(f"downloading {remote.repo}/{remote.path} failed ({_reason(exc)}); what arrived is kept "
                        f"in {part}, the same command resumes") from None
    _verify(remote, part)
    os.replace(part, dest)


def _transfer(remote: RemoteFile, f: BinaryIO, have: int, part: Path) -> int:
    """Append the rest of `remote` to `f` (which holds its first `have` bytes); retry a broken
    stream with a Range request. Returns the byte count, which is remote.size."""
    from huggingface_hub import get_token
    url = f"{endpoint()}/{remote.repo}/resolve/{remote.commit}/{quote(remote.path)}"
    headers = {"User-Agent": LIBRARY, "Accept-Encoding": "identity"}
    if token := get_token():  # HF_TOKEN or `hf auth login`'s; httpx drops it on the redirect off the hub
        headers["Authorization"] = f"Bearer {token}"
    name = remote.path.rsplit("/", 1)[-1]
    fruitless = 0
    with httpx.Client(follow_redirects=True, timeout=httpx.Timeout(60.0, connect=15.0)) as client, \
            _bar(remote.size, name, initial=have) as bar:
        while have < remote.size:
            start = have
            try:
                have = _get(client, url, headers, f, have, remote, bar)
                problem = f"the stream ended at {gb(have)} of {gb(remote.size)}"
            except (httpx.TransportError, _Transient) as exc:
                f.flush()
                have = os.fstat(f.fileno()).st_size  # what reached the file before the break
                problem = _reason(exc)
            if have >= remote.size:
                break
            fruitless = 0 if have > start else fruitless + 1
            if fruitless >= ATTEMPTS:
                raise PullError(f"downloading {name} failed {ATTEMPTS} times in a row ({problem}); {gb(have)} of "
                                f"{gb(remote.size)} are kept in {part}: the same command resumes from there")
            bar.write(f"harness: {name}: {problem}; resuming at byte {have}", file=sys.stderr)
            time.sleep(0 if fruitless == 0 else min(2.0 ** fruitless, 30.0))
    return have


class _Transient(Exception):
    """A server answer worth another try (408, 429, 5xx)."""


def _get(client: httpx.Client, url: str, headers: dict[str, str], f: BinaryIO, have: int,
         remote: RemoteFile, bar: Any) -> int:
    """One GET from byte `have` on; returns the new byte count."""
    sent = dict(headers, Range=f"bytes={have}-") if have else headers
    with client.stream("GET", url, headers=sent) as r:
        if r.status_code in (408, 429) or r.status_code >= 500:
            raise _Transient(f"HTTP {r.status_code} from {r.url.host}")
        if r.status_code in (401, 403, 404):
            raise PullError(f"{remote.repo}/{remote.path}: the download answered HTTP {r.status_code}"
                            + (" (set HF_TOKEN for a gated or private repo)" if r.status_code != 404 else ""))
        if r.status_code not in (200, 206):
            raise PullError(f"{remote.repo}/{remote.path}: unexpected HTTP {r.status_code} from {r.url.host}")
        if r.status_code == 200 and have:  # the server ignored Range: start over
            f.seek(0)
            f.truncate(0)
            have = 0
            bar.reset(total=remote.size)
        elif r.status_code == 206 and not r.headers.get("Content-Range", "").startswith(f"bytes {have}-"):
            raise PullError(f"{remote.repo}/{remote.path}: the server sent range "
                            f"{r.headers.get('Content-Range')!r} for a request from byte {have}")
        for chunk in r.iter_bytes():
            f.write(chunk)
            have += len(chunk)
            bar.update(len(chunk))
            if have > remote.size:
                raise PullError(f"{remote.repo}/{remote.path}: the server sent more than the {remote.size} "
                                "bytes the hub lists")
    return have


def _bar(total: int, desc: str, initial: int = 0) -> Any:
    """huggingface_hub's progress bar on stderr (HF_HUB_DISABLE_PROGRESS_BARS=1 turns it off)."""
    from huggingface_hub.utils.tqdm import tqdm
    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1000,  # type: ignore[no-untyped-call]
                desc=desc, file=sys.stderr)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f, _bar(path.stat().st_size, "verifying sha256") as bar:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            bar.update(len(chunk))
    return h.hexdigest()


def _verify(remote: RemoteFile, part: Path) -> None:
    """The sha256 the hub lists, and a GGUF header; a file that fails either is removed."""
    got = sha256_of(part)
    if got != remote.sha256:
        part.unlink(missing_ok=True)
        raise PullError(f"{remote.repo}/{remote.path}: sha256 mismatch (got {got[:16]}..., the hub lists "
                        f"{remote.sha256[:16]}...); the download was removed, run the pull again")
    with open(part, "rb") as f:
        magic = f.read(4)
    if magic != GGUF_MAGIC:
        part.unlink(missing_ok=True)
        raise PullError(f"{remote.repo}/{remote.path} is not a GGUF file (it starts with {magic!r}); removed")
