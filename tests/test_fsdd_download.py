"""FSDD from the shared copy, and the downloader against a local HTTP server on loopback."""

from __future__ import annotations

import functools
import http.server
import io
import shutil
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from suite.data import DataNotFoundError, get_dataset
from suite.data.download import UnsafeArchiveError, fetch, safe_extract
from suite.errors import SuiteError
from tests.helpers_audio import SHARED_DATA

FSDD = SHARED_DATA / "fsdd"
needs_fsdd = pytest.mark.skipif(not (FSDD / "recordings").is_dir(), reason=f"the shared FSDD copy is not at {FSDD}")
PREFIX = "free-spoken-digit-dataset-1.0.10"


@needs_fsdd
def test_official_protocol_on_the_shared_copy() -> None:
    fsdd = get_dataset("fsdd", root=SHARED_DATA)
    frame = fsdd.metadata()
    assert len(frame) == 3000
    assert frame.groupby("split").size().to_dict() == {"test": 300, "train": 2400, "validation": 300}
    assert fsdd.class_names == [str(d) for d in range(10)]
    assert set(fsdd.split("test")["take"]) == {0, 1, 2, 3, 4}
    assert set(fsdd.split("validation")["take"]) == {5, 6, 7, 8, 9}
    waveform, rate = fsdd.load(frame.iloc[0])
    assert rate == 8000 and waveform.shape[0] == 1
    fsdd.verify()  # the shared copy is v1.0.10, byte for byte


@needs_fsdd
def test_speaker_protocol_holds_out_whole_speakers() -> None:
    frame = get_dataset("fsdd", root=SHARED_DATA, protocol="speakers").metadata()
    speakers = {split: set(frame[frame["split"] == split]["speaker"]) for split in ("train", "validation", "test")}
    assert speakers["test"] == {"theo"} and speakers["validation"] == {"nicolas"}
    assert not speakers["train"] & (speakers["test"] | speakers["validation"])
    assert len(speakers["train"]) == 4


def test_unknown_protocol_and_option() -> None:
    with pytest.raises(SuiteError, match="unknown protocol 'speaker'; available: official, speakers"):
        get_dataset("fsdd", protocol="speaker")
    with pytest.raises(SuiteError, match="unknown option"):
        get_dataset("fsdd", mirror="x")


def test_data_root_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(SuiteError, match="is a file, not a folder"):
        get_dataset("fsdd", root=tmp_path / "file")


class _Server:
    """Serves a folder on 127.0.0.1 with a random free port; counts requests."""

    def __init__(self, folder: Path) -> None:
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
        handler.log_message = lambda *args: None  # type: ignore[method-assign]
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[_Server, Path]]:
    folder = tmp_path_factory.mktemp("served")
    served = _Server(folder)
    yield served, folder
    served.close()


def _fsdd_archive(path: Path, tamper: bool = False) -> Path:
    """An archive in the layout of the project's tag archive, built from the shared copy."""
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for wav in sorted((FSDD / "recordings").glob("*.wav")):
            tar.add(wav, arcname=f"{PREFIX}/recordings/{wav.name}")
        if tamper:  # one recording altered: the pinned digest must catch it
            data = b"RIFF" + b"\x00" * 60
            info = tarfile.TarInfo(f"{PREFIX}/recordings/0_george_0.wav")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        tar.addfile(tarfile.TarInfo(f"{PREFIX}/README.md"), io.BytesIO(b""))
    return path


@needs_fsdd
def test_download_from_loopback_verifies_and_installs(server: tuple[_Server, Path], tmp_path: Path) -> None:
    served, folder = server
    _fsdd_archive(folder / "v1.0.10.tar.gz")
    fsdd = get_dataset("fsdd", root=tmp_path / "data", url=served.url("v1.0.10.tar.gz"))
    assert len(fsdd.metadata()) == 3000
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["fsdd"]  # no leftovers beside it
    fsdd.verify()


@needs_fsdd
def test_download_with_a_bad_checksum_installs_nothing(server: tuple[_Server, Path], tmp_path: Path) -> None:
    served, folder = server
    _fsdd_archive(folder / "tampered.tar.gz", tamper=True)
    fsdd = get_dataset("fsdd", root=tmp_path / "data", url=served.url("tampered.tar.gz"))
    with pytest.raises(DataNotFoundError, match="checksum mismatch"):
        fsdd.metadata()
    assert not (tmp_path / "data" / "fsdd").exists()
    assert list((tmp_path / "data").iterdir()) == []


def test_no_network_says_what_is_missing_and_how_to_provide_it(tmp_path: Path) -> None:
    fsdd = get_dataset("fsdd", root=tmp_path, url="http://127.0.0.1:9/nothing.tar.gz")
    with pytest.raises(DataNotFoundError) as error:
        fsdd.metadata()
    message = str(error.value)
    assert str(tmp_path / "fsdd") in message and "download failed" in message and "--data-root" in message


def test_fetch_checks_the_sha256(server: tuple[_Server, Path], tmp_path: Path) -> None:
    served, folder = server
    (folder / "blob.bin").write_bytes(b"hello")
    good = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert fetch(served.url("blob.bin"), tmp_path / "blob.bin", good).read_bytes() == b"hello"
    with pytest.raises(DataNotFoundError, match="checksum mismatch"):
        fetch(served.url("blob.bin"), tmp_path / "other.bin", "0" * 64)
    assert not (tmp_path / "other.bin").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["blob.bin"]  # no .part file left


@pytest.mark.parametrize("member", ["../escaped.txt", "/tmp/absolute-escape.txt", "a/../../escaped.txt"])
def test_tar_members_escaping_the_target_are_refused(tmp_path: Path, member: str) -> None:
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.addfile(tarfile.TarInfo("fine.txt"), io.BytesIO(b""))
        info = tarfile.TarInfo(member)
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    with pytest.raises(UnsafeArchiveError, match="outside"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists()
    assert not (tmp_path / "out" / "fine.txt").exists()  # nothing is extracted from an unsafe archive


def test_tar_symlink_escaping_the_target_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "link.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("link")
        info.type, info.linkname = tarfile.SYMTYPE, "../../etc/passwd"
        tar.addfile(info)
    with pytest.raises(UnsafeArchiveError):
        safe_extract(archive, tmp_path / "out")


def test_zip_member_escaping_the_target_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("../escaped.txt", "evil")
    with pytest.raises(UnsafeArchiveError, match="outside"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists()


def test_safe_archive_extracts(tmp_path: Path) -> None:
    archive = tmp_path / "ok.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("a/b.txt", "fine")
    safe_extract(archive, tmp_path / "out")
    assert (tmp_path / "out" / "a" / "b.txt").read_text() == "fine"
    shutil.rmtree(tmp_path / "out")
