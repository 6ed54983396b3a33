"""Fetch a pinned archive, verify it, and unpack it without letting it escape.

Downloads go to a temporary file beside the target and are renamed only when complete
(and, where a checksum is pinned, verified), so an interrupted download never leaves a
file that looks finished. A download is bounded three ways: each read by ``timeout``,
the whole transfer (connection, headers and body) by a deadline, and its length by a
size cap, so a server that drips bytes or never stops cannot hold a run forever or fill
the disk. Extraction refuses any member whose path, or link target, would land outside
the target folder, and an archive with a pinned digest is verified before extraction.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import math
import os
import shutil
import socket
import tarfile
import tempfile
import threading
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path
from types import TracebackType
from typing import Any

from suite.data.base import DataNotFoundError
from suite.errors import SuiteError
from suite.fileio import atomic_write
from suite.progress import progress as show_progress

CHUNK = 1 << 20
#: The slowest transfer rate (bytes/s) the default deadline allows for; below it a download is treated as stalled.
MIN_RATE = 32 * 1024
#: Seconds added to every default deadline for connecting, redirects and a slow start.
DEADLINE_FLOOR = 120.0
#: The size cap of a download whose caller names none.
DEFAULT_MAX_BYTES = 2 * 1024**3
#: Overrides the default deadline (seconds), e.g. on a slow link.
DEADLINE_ENV = "SUITE_DOWNLOAD_DEADLINE"


class UnsafeArchiveError(SuiteError):
    """An archive member would be written outside the extraction folder."""


def default_deadline(max_bytes: int) -> float:
    """The deadline for a whole download of at most ``max_bytes`` bytes, in seconds.

    ``$SUITE_DOWNLOAD_DEADLINE`` when set, else :data:`DEADLINE_FLOOR` plus the time
    ``max_bytes`` takes at :data:`MIN_RATE` (for FSDD's 24 MiB cap: 120 + 768 s).

    Raises:
        SuiteError: if ``$SUITE_DOWNLOAD_DEADLINE`` is not a positive number.
    """
    value = os.environ.get(DEADLINE_ENV)
    if not value:
        return DEADLINE_FLOOR + max_bytes / MIN_RATE
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise SuiteError(f"${DEADLINE_ENV} must be a positive number of seconds, got {value[:40]!r}")
    return seconds


class _Watchdog:
    """Shuts down the download's sockets when its deadline passes.

    A socket timeout bounds one read only; shutting the socket down from a timer ends a
    blocked read at once, whether it waits for headers or for the body, so a server
    that sends one byte just inside every timeout still cannot outlive the deadline.
    (The TLS handshake itself is bounded by the per-read timeout only.)
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                self._shutdown(sock)

    @staticmethod
    def _shutdown(sock: socket.socket) -> None:
        # The plain socket's method touches only the descriptor, never an SSL object in use by the reader;
        # a socket already closed (or detached by the TLS wrapper) raises OSError, which is fine.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                self._shutdown(sock)

    def opener(self) -> urllib.request.OpenerDirector:
        """An opener like :func:`urllib.request.urlopen`'s whose connections this watchdog can cut."""
        watchdog = self

        class Connection(http.client.HTTPConnection):
            def connect(self) -> None:
                super().connect()
                watchdog.track(self.sock)

        # HTTPSConnection.connect calls super().connect(), i.e. Connection's, then wraps the socket in TLS.
        class SecureConnection(http.client.HTTPSConnection, Connection):
            def connect(self) -> None:
                super().connect()
                watchdog.track(self.sock)

        class Handler(urllib.request.HTTPHandler):
            def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
                return self.do_open(Connection, req)

        class SecureHandler(urllib.request.HTTPSHandler):
            def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
                options: dict[str, Any] = {"context": self._context}  # type: ignore[attr-defined]
                if getattr(self, "_check_hostname", None) is not None:  # Python 3.11 only
                    options["check_hostname"] = self._check_hostname  # type: ignore[attr-defined]
                return self.do_open(SecureConnection, req, **options)

        return urllib.request.build_opener(Handler, SecureHandler)

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self._timer.cancel()


def fetch(
    url: str,
    destination: Path,
    sha256: str | None = None,
    timeout: float = 60.0,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    deadline: float | None = None,
) -> Path:
    """Download ``url`` to ``destination`` with a progress bar; verify ``sha256`` if given.

    Args:
        url (str): What to download (``http``, ``https``, ``file``...).
        destination (Path): Where the complete, verified file is put.
        sha256 (str, optional): The expected digest, lower-case hex. (Default: ``None``, not checked)
        timeout (float, optional): Seconds one connect or read may wait. (Default: ``60.0``)
        max_bytes (int, optional): The most bytes accepted; a larger Content-Length is refused
            before the body is read, and a longer stream is cut off. (Default: 2 GiB)
        deadline (float, optional): Seconds the whole download may take. (Default:
            :func:`default_deadline` of ``max_bytes``)

    Returns:
        Path: ``destination``.

    Raises:
        DataNotFoundError: when the download fails, passes its deadline or size cap, or the
            checksum does not match; nothing is left at ``destination`` then.
    """
    seconds = default_deadline(max_bytes) if deadline is None else deadline
    watchdog = _Watchdog(seconds)
    received = 0

    def overdue() -> DataNotFoundError:
        hint = f"; on a slow link allow more with ${DEADLINE_ENV}=<seconds>" if deadline is None else ""
        return DataNotFoundError(f"download of {url} passed its deadline of {seconds:g} s after {received} bytes{hint}")

    try:
        # The watchdog stops before atomic_write syncs and renames, so only the transfer counts against the deadline.
        with (
            atomic_write(destination, binary=True) as out,
            watchdog,
            watchdog.opener().open(url, timeout=timeout) as response,
        ):
            total = int(response.headers.get("Content-Length") or 0) or None
            if total is not None and total > max_bytes:
                raise DataNotFoundError(f"download of {url} refused: it announces {total} bytes, over the limit of {max_bytes}")
            digest = hashlib.sha256()
            with show_progress(total=total, unit="B", unit_scale=True, desc=f"download {destination.name}") as bar:
                # read1 returns what one socket read brings, so the deadline is checked between reads.
                read = getattr(response, "read1", response.read)
                for block in iter(lambda: read(CHUNK), b""):
                    if watchdog.expired:
                        raise overdue()
                    if received + len(block) > max_bytes:
                        raise DataNotFoundError(f"download of {url} stopped: it sent more than the limit of {max_bytes} bytes")
                    out.write(block)
                    digest.update(block)
                    received += len(block)
                    bar.update(len(block))
            if watchdog.expired:  # a socket shut down by the watchdog reads as the end of the stream
                raise overdue()
            if total is not None and received != total:  # a dropped connection can end the stream early
                raise DataNotFoundError(f"download of {url} stopped after {received} of {total} bytes")
            if sha256 is not None and digest.hexdigest() != sha256:
                raise DataNotFoundError(f"checksum mismatch for {url}: got sha256 {digest.hexdigest()}, expected {sha256}")
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
        if watchdog.expired:
            raise overdue() from None
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


def download_and_extract(
    url: str,
    target: Path,
    sha256: str | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    deadline: float | None = None,
    timeout: float = 60.0,
) -> Path:
    """Fetch ``url`` and unpack it into a fresh temporary folder beside ``target``; returns that folder.

    With ``sha256`` the archive is verified before anything is extracted: a mismatch
    raises and leaves nothing behind. ``max_bytes``, ``deadline`` and ``timeout`` are
    :func:`fetch`'s. The caller moves what it needs into place and removes the folder.

    Raises:
        DataNotFoundError: as :func:`fetch`, or when the folder cannot be written or the
            archive cannot be read or unpacked; nothing is left behind then.
        UnsafeArchiveError: as :func:`safe_extract`.
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        workspace = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-download-"))
    except OSError as error:  # a read-only or unreadable data root
        raise DataNotFoundError(f"cannot download into {target.parent}: {error.strerror or error}") from None
    try:
        archive = fetch(
            url, workspace / Path(url.split("?")[0]).name, sha256, timeout=timeout, max_bytes=max_bytes, deadline=deadline
        )
        try:
            safe_extract(archive, workspace / "extracted")
        except OSError as error:  # e.g. the disk filled up while unpacking
            raise DataNotFoundError(f"could not unpack {url} into {workspace}: {error.strerror or error}") from None
        archive.unlink()
    except BaseException:
        shutil.rmtree(workspace, ignore_errors=True)
        raise
    return workspace / "extracted"
