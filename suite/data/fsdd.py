"""Free Spoken Digit Dataset (FSDD), release v1.0.10."""

from __future__ import annotations

import os
import re
import shutil
from typing import Any, ClassVar

import pandas as pd

from suite.data.base import AudioDataset, DataNotFoundError, register_dataset, tree_digest
from suite.data.download import download_and_extract
from suite.errors import SuiteError

_NAME = re.compile(r"^(?P<digit>\d)_(?P<speaker>[a-z]+)_(?P<take>\d+)\.wav$")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def _checked_sha256(value: object, source: str) -> str:
    """``value`` in lower case if it is a sha256 in hex; else a one-line error naming ``source``."""
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise SuiteError(f"fsdd: {source} must be 64 hexadecimal digits, got {str(value)[:80]!r}")
    return value.lower()


@register_dataset
class FSDD(AudioDataset):
    """Free Spoken Digit Dataset v1.0.10: 3,000 recordings of digits, 8 kHz, 6 speakers x 10 digits x 50 takes.

    Layout: ``fsdd/recordings/{digit}_{speaker}_{take}.wav``.

    Protocols:
        ``official``: takes 0-4 of every speaker and digit are the test set (300 files,
        the data set's own split); of the training takes, 5-9 are the validation set
        (300) and 10-49 the training set (2,400).
        ``speakers``: speaker-independent; ``theo`` is the test speaker, ``nicolas`` the
        validation speaker, the other four train.

    Missing data are downloaded from the project's archive of tag v1.0.10. That archive
    is checked against its pinned sha256 before anything is extracted, and the extracted
    recordings against the pinned digest of all 3,000 (the sha256 of their
    ``SHA256SUMS``) before they are installed. Another address (the ``url`` option or
    ``$SUITE_FSDD_URL``, e.g. a mirror) may pack the same recordings differently, so the
    archive digest applies to it only when given (the ``sha256`` option or
    ``$SUITE_FSDD_SHA256``); the recordings digest always does. The download is capped at
    :attr:`max_download_bytes` and bounded by a deadline (see
    :func:`suite.data.download.default_deadline`).
    """

    name = "fsdd"
    version = "v1.0.10"
    folder = "fsdd"
    sample_rate = 8000
    protocols = ("official", "speakers")
    default_protocol = "official"
    citation = "Free Spoken Digit Dataset (FSDD), Jakobovski et al., v1.0.10, https://doi.org/10.5281/zenodo.1342401"
    license = "CC BY-SA 4.0"
    homepage = "https://github.com/Jakobovski/free-spoken-digit-dataset"
    #: GitHub's zip of tag v1.0.10 (commit d6938f9bf1545aa66d8489fc9f1385a7abd64282), served by codeload.github.com.
    url: ClassVar[str] = "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/v1.0.10.zip"
    #: sha256 of that zip (16,419,872 bytes), checked before extraction. Recorded by an independent download
    #: (github.com/ryan-voitiskis/lossytrace, benchmarks/audio-integrity-v2/fsdd-source-group-rules.json, with
    #: codeload's strong ETag) and reproduced byte for byte by ``git archive --format=zip`` of the tag (TZ=America/Los_Angeles).
    archive_sha256: ClassVar[str] = "c680098f5d2355ba7cc4bd8b0ca9e0a24c00ebe3b4c552208889a4d28d4fbc2b"
    #: The size cap: above the 16,419,872-byte zip and the 23,459,840-byte plain tar of the tag, so a mirror
    #: serving the same release uncompressed still fits, far below anything that could fill a disk.
    max_download_bytes: ClassVar[int] = 24 * 2**20
    #: sha256 of ``sha256sum`` over the 3,000 sorted recordings (= sha256 of the release's SHA256SUMS).
    recordings_digest: ClassVar[str] = "1801eae019c063377d98f831d3f93574f259475df7332bb0e3d1b080fb5e6959"
    test_speakers: ClassVar[tuple[str, ...]] = ("theo",)
    validation_speakers: ClassVar[tuple[str, ...]] = ("nicolas",)

    def __init__(self, root: str | os.PathLike[str] | None = None, protocol: str | None = None, **options: Any) -> None:
        super().__init__(root, protocol, **options)
        if options.get("sha256") is not None:
            _checked_sha256(options["sha256"], "the sha256 option")  # refused at once, not only when a download starts

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return ("url", "sha256")

    def _archive_digest(self, url: str) -> str | None:
        """The sha256 the archive at ``url`` must have: the user's, else the pinned one for :attr:`url`, else none."""
        if self.options.get("sha256"):
            return _checked_sha256(self.options["sha256"], "the sha256 option")
        if os.environ.get("SUITE_FSDD_SHA256"):
            return _checked_sha256(os.environ["SUITE_FSDD_SHA256"], "$SUITE_FSDD_SHA256")
        return self.archive_sha256 if url == self.url else None

    def download(self) -> None:
        url = self.options.get("url") or os.environ.get("SUITE_FSDD_URL") or self.url
        sha256 = self._archive_digest(url)
        try:
            extracted = download_and_extract(url, self.path, sha256, max_bytes=self.max_download_bytes)
        except DataNotFoundError as error:
            raise DataNotFoundError(
                f"fsdd was not found in {self.path} and the download failed ({error}); "
                f"put the v1.0.10 recordings in {self.path / 'recordings'} or point --data-root at a folder holding fsdd/"
            ) from None
        try:
            found = [p for p in extracted.rglob("recordings") if p.is_dir()]
            if not found:
                raise DataNotFoundError(f"the archive from {url} has no recordings/ folder")
            digest = tree_digest(found[0])
            if digest != self.recordings_digest:
                raise DataNotFoundError(
                    f"checksum mismatch: the recordings from {url} have digest {digest}, "
                    f"expected {self.recordings_digest} (FSDD {self.version})"
                )
            try:
                self.path.mkdir(parents=True, exist_ok=True)
                shutil.move(str(found[0]), str(self.path / "recordings"))
            except OSError as error:
                reason = error.strerror or error
                raise DataNotFoundError(f"fsdd: could not install the recordings in {self.path}: {reason}") from None
        finally:
            shutil.rmtree(extracted.parent, ignore_errors=True)

    def _metadata(self) -> pd.DataFrame:
        recordings = self.path.absolute() / "recordings"
        if not recordings.is_dir():
            raise DataNotFoundError(f"fsdd: {recordings} is missing (expected recordings/{{digit}}_{{speaker}}_{{take}}.wav)")
        rows = []
        for path in sorted(recordings.glob("*.wav")):
            match = _NAME.match(path.name)
            if not match:
                raise SuiteError(f"fsdd: unexpected file name {path} (expected {{digit}}_{{speaker}}_{{take}}.wav)")
            speaker, take = match["speaker"], int(match["take"])
            rows.append({"path": str(path), "label": match["digit"], "speaker": speaker, "take": take})
        frame = pd.DataFrame(rows, columns=["path", "label", "speaker", "take"])
        frame["split"] = [self._split_of(speaker, take) for speaker, take in zip(frame["speaker"], frame["take"], strict=True)]
        return frame

    def _split_of(self, speaker: str, take: int) -> str:
        if self.protocol == "official":
            return "test" if take < 5 else "validation" if take < 10 else "train"
        if speaker in self.test_speakers:
            return "test"
        return "validation" if speaker in self.validation_speakers else "train"

    def verify(self) -> None:
        """Check the recordings on disk against the pinned digest of v1.0.10."""
        digest = tree_digest(self.path / "recordings")
        if digest != self.recordings_digest:
            raise SuiteError(
                f"fsdd in {self.path} differs from {self.version}: digest {digest}, expected {self.recordings_digest}"
            )
