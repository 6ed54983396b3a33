"""Fetch a pinned archive, verify it, and unpack it without letting it escape.

Downloads go to a temporary file beside the target and are renamed only when complete
(and, where a checksum is pinned, verified), so an interrupted download never leaves a
file that looks finished. Extraction refuses any member whose path, or link target,
would land outside the target folder.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path

from tqdm.auto import tqdm

from suite.data.base import DataNotFoundError
from suite.errors import SuiteError
from suite.fileio import atomic_write

CHUNK = 1 << 20


class UnsafeArchiveError(SuiteError):
    """An archive member would be written outside the extraction folder."""


def fetch(url: str, destination: Path, sha256: str | None = None, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``destination`` with a progress bar; verify ``sha256`` if given.

    Raises:
        DataNotFoundError: when the download fails or the checksum does not match.
    """
    try:
        with atomic_write(destination, binary=True) as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            digest, received = hashlib.sha256(), 0
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"download {destination.name}", disable=None) as bar:
                for block in iter(lambda: response.read(CHUNK), b""):
                    out.write(block)
                    digest.update(block)
                    received += len(block)
                    bar.update(len(block))
            if total is not None and received != total:  # a dropped connection can end the stream early
                raise DataNotFoundError(f"download of {url} stopped after {received} of {total} bytes")
            if sha256 is not None and digest.hexdigest() != sha256:
                raise DataNotFoundError(f"checksum mismatch for {url}: got sha256 {digest.hexdigest()}, expected {sha256}")
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
        raise DataNotFoundError(f"could not download {url}: {getattr(error, 'reason', error)}") from None
    return destination


def _inside(target: Path, member: str) -> bool:
    resolved = (target / member).resolve()
    return resolved == target or target in resolved.parents


def safe_extract(archive: Path, target: Path) -> None:
    """Unpack a ``.tar[.gz|.bz2|.xz]`` or ``.zip`` into ``target``.

    Raises:
        UnsafeArchiveError: if a member (or a link's target) escapes ``target``; nothing
            is extracted then.
    """
    target = target.resolve()
    target.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zipped:
            for name in zipped.namelist():
                if not _inside(target, name):
                    raise UnsafeArchiveError(f"{archive.name}: member {name!r} would be written outside {target}")
            zipped.extractall(target)
        return
    try:
        with tarfile.open(archive) as tarred:
            members = tarred.getmembers()
            for member in members:
                link_escapes = (member.issym() or member.islnk()) and not _inside(
                    target, os.path.join(os.path.dirname(member.name), member.linkname) if member.issym() else member.linkname
                )
                if not _inside(target, member.name) or link_escapes or member.isdev():
                    raise UnsafeArchiveError(f"{archive.name}: member {member.name!r} would be written outside {target}")
            # The 'data' filter (Python >= 3.11.4) is a second guard against the same escapes.
            tarred.extractall(target, members=members, filter="data")
    except (tarfile.TarError, EOFError, zlib.error) as error:  # a truncated .tar.gz ends in EOFError
        raise DataNotFoundError(f"{archive.name} is not a readable archive: {error or type(error).__name__}") from None


def download_and_extract(url: str, target: Path, sha256: str | None = None) -> Path:
    """Fetch ``url`` and unpack it into a fresh temporary folder beside ``target``; returns that folder.

    The caller moves what it needs into place and removes the folder.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    workspace = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-download-"))
    try:
        archive = fetch(url, workspace / Path(url.split("?")[0]).name, sha256)
        safe_extract(archive, workspace / "extracted")
        archive.unlink()
    except BaseException:
        shutil.rmtree(workspace, ignore_errors=True)
        raise
    return workspace / "extracted"
