"""The downloader's limits: a total deadline, a size cap, and an archive digest checked before extraction.

A loopback HTTP server plays the hostile or broken server. The drip routes never finish
on their own within the test (one byte every 0.2 s, far inside the per-read timeout), so
only the deadline can end them, however fast or slow the machine; each route also stops
after a bounded number of bytes, so a downloader without the limit fails the test (with
a different message) instead of hanging it.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

import suite.data.download as download
from suite.data import DataNotFoundError, get_dataset
from suite.data.download import DEADLINE_ENV, default_deadline, download_and_extract, fetch
from suite.data.fsdd import FSDD
from suite.errors import SuiteError
from tests.helpers_audio import SHARED_DATA

DRIP_INTERVAL = 0.2  # seconds between bytes: far inside READ_TIMEOUT, so each read succeeds
DRIP_BYTES = 150  # a drip ends after 30 s: a downloader that ignored its deadline gets a different error
READ_TIMEOUT = 2.0  # above the drip interval with room for a busy machine; the deadline, not this, must end a drip
DEADLINE = 1.0


class _Handler(http.server.BaseHTTPRequestHandler):
    """Routes: /drip-body, /drip-headers, /huge-length, /endless, and /files/NAME from ``files``."""

    files: ClassVar[dict[str, bytes]] = {}
    stop: ClassVar[threading.Event] = threading.Event()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _drip(self, data: bytes) -> None:
        for byte in data:
            if self.stop.is_set():
                return
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            time.sleep(DRIP_INTERVAL)

    def do_GET(self) -> None:
        try:
            if self.path == "/drip-body":
                self.send_response(200)
                self.send_header("Content-Length", str(DRIP_BYTES))
                self.end_headers()
                self._drip(b"x" * DRIP_BYTES)
            elif self.path == "/drip-headers":
                self.wfile.write(b"HTTP/1.0 200 OK\r\nX-Slow: ")
                self._drip(b"a" * DRIP_BYTES)
                self.wfile.write(b"\r\nContent-Length: 0\r\n\r\n")
            elif self.path == "/huge-length":  # announces a terabyte, then sends nothing and holds the line
                self.send_response(200)
                self.send_header("Content-Length", str(10**12))
                self.end_headers()
                self.wfile.flush()
                self.stop.wait(30)
            elif self.path == "/endless":  # no Content-Length: the body ends when the server closes (HTTP/1.0)
                self.send_response(200)
                self.end_headers()
                for _ in range(16):  # 1 MiB in all
                    self.wfile.write(b"\0" * 65536)
            elif self.path.startswith("/files/") and self.path[len("/files/") :] in self.files:
                body = self.files[self.path[len("/files/") :]]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_error(404)
        except OSError:  # the client hung up, as it should once a limit is hit
            pass


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    _Handler.stop.clear()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    _Handler.stop.set()  # ends any drip still running
    server.shutdown()
    server.server_close()


def _one_line(error: pytest.ExceptionInfo[BaseException], *parts: str) -> str:
    message = str(error.value)
    assert "\n" not in message
    for part in parts:
        assert part in message, (part, message)
    return message


def test_a_body_dripping_inside_every_read_timeout_ends_at_the_deadline(base_url: str, tmp_path: Path) -> None:
    url = f"{base_url}/drip-body"
    with pytest.raises(DataNotFoundError) as error:
        fetch(url, tmp_path / "blob", timeout=READ_TIMEOUT, deadline=DEADLINE)
    message = _one_line(error, url, "deadline of 1 s")
    received = int(message.split(" after ")[1].split(" bytes")[0])
    assert 0 <= received < DRIP_BYTES  # it was cut off, not finished
    assert list(tmp_path.iterdir()) == []  # no file, no .part


def test_headers_dripping_end_at_the_deadline_set_in_the_environment(
    base_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DEADLINE_ENV, "1")
    url = f"{base_url}/drip-headers"
    with pytest.raises(DataNotFoundError) as error:
        fetch(url, tmp_path / "blob", timeout=READ_TIMEOUT)
    _one_line(error, url, "deadline of 1 s after 0 bytes", f"${DEADLINE_ENV}=<seconds>")
    assert list(tmp_path.iterdir()) == []


def test_the_default_deadline_follows_the_size_cap_and_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEADLINE_ENV, raising=False)
    assert default_deadline(0) == download.DEADLINE_FLOOR
    assert default_deadline(64 * download.MIN_RATE) == download.DEADLINE_FLOOR + 64
    monkeypatch.setenv(DEADLINE_ENV, "2.5")
    assert default_deadline(10**9) == 2.5
    for bad in ("soon", "0", "-3", "inf", "nan"):
        monkeypatch.setenv(DEADLINE_ENV, bad)
        with pytest.raises(SuiteError, match=f"{DEADLINE_ENV} must be a positive number of seconds, got '{bad}'"):
            default_deadline(1)


def test_an_oversized_content_length_is_refused_before_the_body(base_url: str, tmp_path: Path) -> None:
    url = f"{base_url}/huge-length"
    # The server never sends the body: only an early refusal ends this before the deadline.
    with pytest.raises(DataNotFoundError) as error:
        fetch(url, tmp_path / "blob", timeout=READ_TIMEOUT, max_bytes=1000, deadline=30.0)
    _one_line(error, url, "refused", f"announces {10**12} bytes, over the limit of 1000")
    assert list(tmp_path.iterdir()) == []


def test_a_stream_without_length_is_cut_at_the_size_cap(base_url: str, tmp_path: Path) -> None:
    url = f"{base_url}/endless"
    with pytest.raises(DataNotFoundError) as error:
        fetch(url, tmp_path / "blob", timeout=READ_TIMEOUT, max_bytes=100_000, deadline=30.0)
    _one_line(error, url, "more than the limit of 100000 bytes")
    assert list(tmp_path.iterdir()) == []
    # Under the cap the same stream is accepted whole.
    assert fetch(url, tmp_path / "blob", timeout=READ_TIMEOUT, max_bytes=1 << 20).stat().st_size == 1 << 20


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def extractions(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Archives handed to safe_extract (which still runs): empty means nothing was extracted."""
    calls: list[Path] = []
    real = download.safe_extract

    def spy(archive: Path, target: Path) -> None:
        calls.append(archive)
        real(archive, target)

    monkeypatch.setattr(download, "safe_extract", spy)
    return calls


def test_a_wrong_archive_digest_is_refused_before_extraction(base_url: str, tmp_path: Path, extractions: list[Path]) -> None:
    archive = _tar_gz({"data/a.txt": b"payload"})
    _Handler.files["a.tar.gz"] = archive
    url = f"{base_url}/files/a.tar.gz"
    with pytest.raises(DataNotFoundError) as error:
        download_and_extract(url, tmp_path / "target", "0" * 64)
    _one_line(error, url, "checksum mismatch", hashlib.sha256(archive).hexdigest())
    assert extractions == []
    assert list(tmp_path.iterdir()) == []  # the temporary workspace is gone too

    extracted = download_and_extract(url, tmp_path / "target", hashlib.sha256(archive).hexdigest())
    assert len(extractions) == 1
    assert (extracted / "data" / "a.txt").read_bytes() == b"payload"


def test_fsdd_checks_the_pinned_archive_digest_before_extraction(
    base_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extractions: list[Path]
) -> None:
    _Handler.files["v1.0.10.zip"] = b"PK\x05\x06" + b"\0" * 18  # an empty zip: not the release
    url = f"{base_url}/files/v1.0.10.zip"
    monkeypatch.setattr(FSDD, "url", url)  # stands in for GitHub: the pinned digest applies to this address
    monkeypatch.delenv("SUITE_FSDD_URL", raising=False)
    monkeypatch.delenv("SUITE_FSDD_SHA256", raising=False)
    with pytest.raises(DataNotFoundError) as error:
        get_dataset("fsdd", root=tmp_path).metadata()
    _one_line(error, url, "checksum mismatch", f"expected {FSDD.archive_sha256}")
    assert extractions == []
    assert list(tmp_path.iterdir()) == []


def test_fsdd_mirror_with_a_sha256_option_is_checked_before_extraction(
    base_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extractions: list[Path]
) -> None:
    _Handler.files["mirror.tar.gz"] = _tar_gz({"fsdd/recordings/0_x_0.wav": b"RIFF"})
    url = f"{base_url}/files/mirror.tar.gz"
    monkeypatch.delenv("SUITE_FSDD_SHA256", raising=False)
    with pytest.raises(DataNotFoundError) as error:
        get_dataset("fsdd", root=tmp_path, url=url, sha256="A" * 64).metadata()
    _one_line(error, url, "checksum mismatch", "expected " + "a" * 64)
    assert extractions == []
    monkeypatch.setenv("SUITE_FSDD_SHA256", "b" * 64)  # the environment's digest applies the same way
    with pytest.raises(DataNotFoundError, match="expected " + "b" * 64):
        get_dataset("fsdd", root=tmp_path, url=url).metadata()
    assert extractions == []
    assert list(tmp_path.iterdir()) == []


def test_fsdd_caps_its_download(base_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"{base_url}/endless"
    monkeypatch.setattr(FSDD, "max_download_bytes", 100_000)
    with pytest.raises(DataNotFoundError) as error:
        get_dataset("fsdd", root=tmp_path, url=url).metadata()
    _one_line(error, url, "more than the limit of 100000 bytes", "download failed")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", ["abc", "0" * 63, "g" * 64, "0" * 64 + "\n"])
def test_fsdd_refuses_a_malformed_sha256_option_at_once(tmp_path: Path, value: str) -> None:
    with pytest.raises(SuiteError, match="the sha256 option must be 64 hexadecimal digits"):
        get_dataset("fsdd", root=tmp_path, sha256=value)


@pytest.mark.skipif(not (SHARED_DATA / "fsdd" / "recordings").is_dir(), reason="the shared FSDD copy is not available")
def test_fsdd_installs_an_archive_with_the_pinned_digest(
    base_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extractions: list[Path]
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:  # stored, not compressed: quick to build
        for wav in sorted((SHARED_DATA / "fsdd" / "recordings").glob("*.wav")):
            zipped.write(wav, f"free-spoken-digit-dataset-1.0.10/recordings/{wav.name}")
    _Handler.files["release.zip"] = buffer.getvalue()
    url = f"{base_url}/files/release.zip"
    monkeypatch.setattr(FSDD, "url", url)
    monkeypatch.setattr(FSDD, "archive_sha256", hashlib.sha256(buffer.getvalue()).hexdigest())
    monkeypatch.delenv("SUITE_FSDD_URL", raising=False)
    monkeypatch.delenv("SUITE_FSDD_SHA256", raising=False)
    fsdd = get_dataset("fsdd", root=tmp_path / "data")
    assert len(fsdd.metadata()) == 3000
    assert len(extractions) == 1
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["fsdd"]
    fsdd.verify()


def test_a_folder_that_cannot_be_written_is_one_line(base_url: str, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")  # a file where a folder should be: refused whoever runs the test, root too
    with pytest.raises(DataNotFoundError) as error:
        download_and_extract(f"{base_url}/files/none", tmp_path / "file" / "data" / "fsdd")
    _one_line(error, f"cannot download into {tmp_path / 'file' / 'data'}")
