"""ESC-10: 400 environmental recordings in 10 classes, five folds, in the data set's own layout."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from suite.data.base import DataNotFoundError, register_dataset
from suite.data.manifest import FoldedDataset, fold_splits
from suite.errors import SuiteError

_CLASS_FOLDER = re.compile(r"^(?P<number>\d{3}) - (?P<label>.+)$")
_CLIP = re.compile(r"^(?P<fold>\d+)-(?P<source>\d+)-(?P<take>[A-Z])\.ogg$")
_SUMS_LINE = re.compile(r"^(?P<digest>[0-9a-fA-F]{64}) [ *](?P<path>.+)$")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")

#: (sums file digest, every listed file's (relative path, size, mtime)) of copies found intact in this process:
#: a copy is hashed once per process, not once per fold.
_VERIFIED: set[tuple[str, tuple[tuple[str, int, int], ...]]] = set()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@register_dataset
class ESC10(FoldedDataset):
    """ESC-10 (Piczak, 2015): 400 clips of about 5 s, 44.1 kHz mono Ogg Vorbis, 40 per class in 10 classes.

    K. J. Piczak, "ESC: Dataset for Environmental Sound Classification", Proc. ACM
    Multimedia 2015, https://doi.org/10.1145/2733373.2806390. Licence CC BY 3.0; the
    copy's ``README.txt`` credits every clip's Freesound source. The classes: dog bark,
    rain, sea waves, baby cry, clock tick, person sneeze, helicopter, chainsaw, rooster,
    fire crackling.

    Layout (the repository karolpiczak/ESC-10 at commit 553c8f1, the last that holds the
    audio): ``esc10/NNN - Class name/F-ID-T.ogg``, where ``F`` is the fold (1-5), ``ID``
    the Freesound clip the take was cut from and ``T`` the take; ``esc10/SHA256SUMS``
    lists every clip's sha256 (paths relative to ``esc10/``). Clips lie between 3.6 s
    and 7.2 s (median 5.0 s); the input's ``clip_seconds`` crops or pads them.

    Every clip is checked against ``SHA256SUMS`` before it is used, and ``SHA256SUMS``
    against the pinned digest of that release (option ``sha256`` for another copy):
    a damaged or substituted file fails in one line naming it.

    Protocols:
        ``fold1`` ... ``fold5``: fold K is the test set, fold (K mod 5) + 1 the
        validation set, the other three train (as the ESC-50 and UrbanSound8K adapters
        do). The data set's protocol is 5-fold cross-validation, reported as the mean
        over the five test folds: name ``protocol: cv`` in a config.
    """

    name = "esc10"
    version = "553c8f1"
    folder = "esc10"
    sample_rate = 44100
    n_folds = 5
    citation = (
        "K. J. Piczak, ESC: Dataset for Environmental Sound Classification, Proc. 23rd ACM International Conference "
        "on Multimedia, 2015, https://doi.org/10.1145/2733373.2806390 (ESC-10 subset, DOI 10.7910/DVN/YDEPUT)"
    )
    license = "CC BY 3.0"
    homepage = "https://github.com/karolpiczak/ESC-10 (commit 553c8f1)"
    #: sha256 of the release's ``SHA256SUMS`` (400 lines, one per clip).
    sums_sha256: ClassVar[str] = "98dcfc5c90c324e1413fa1975dced99302ebae952bbdfa05a0381f4d07300269"

    def __init__(self, root: str | os.PathLike[str] | None = None, protocol: str | None = None, **options: Any) -> None:
        super().__init__(root, protocol, **options)
        pinned = options.get("sha256")
        if pinned is not None and not (isinstance(pinned, str) and _SHA256.match(pinned)):
            raise SuiteError(f"{self.name}: the sha256 option must be 64 hexadecimal digits, got {str(pinned)[:80]!r}")

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return ("sha256",)

    def download(self) -> None:
        raise DataNotFoundError(
            f"{self.name}: {self.path} is missing; get the audio of {self.homepage} (its 10 'NNN - Class name' folders "
            f"and SHA256SUMS) into {self.path}, or point --data-root at a folder holding esc10/"
        )

    def _metadata(self) -> pd.DataFrame:
        base = self.path.absolute()
        listed = self._verified_listing(base)
        rows = []
        for relative in sorted(listed):
            parts = Path(relative).parts
            folder, clip = _CLASS_FOLDER.match(parts[0]) if len(parts) == 2 else None, _CLIP.match(parts[-1])
            if folder is None or clip is None:
                raise SuiteError(f"{self.name}: unexpected file {base / relative} (expected 'NNN - Class name/F-ID-T.ogg')")
            rows.append(
                {"path": str(base / relative), "label": folder["label"], "fold": int(clip["fold"]),
                 "source": int(clip["source"]), "take": clip["take"]}
            )  # fmt: skip
        frame = pd.DataFrame(rows, columns=["path", "label", "fold", "source", "take"])
        folds_per_source = frame.groupby("source")["fold"].nunique()
        shared = folds_per_source[folds_per_source > 1]
        if not shared.empty:  # the folds' promise: takes of one recording never straddle a train/test split
            raise SuiteError(f"{self.name}: the takes of Freesound clip {shared.index[0]} lie in more than one fold")
        sums = base / "SHA256SUMS"
        frame.insert(2, "split", fold_splits(frame["fold"], self.protocol, self.n_folds, sums, "fold", self.name))
        return frame

    def _verified_listing(self, base: Path) -> list[str]:
        """The clips ``SHA256SUMS`` lists, after checking it and every clip; the first problem fails in one line."""
        if not base.is_dir():
            self.download()
        sums = base / "SHA256SUMS"
        if not sums.is_file():
            raise DataNotFoundError(f"{self.name}: {sums} is missing; the copy cannot be verified (see {self.homepage})")
        expected_sums = str(self.options.get("sha256") or self.sums_sha256).lower()
        actual_sums = _sha256(sums)
        if actual_sums != expected_sums:
            raise SuiteError(
                f"{self.name}: checksum mismatch for {sums} (sha256 {actual_sums[:16]}…, expected {expected_sums[:16]}…): "
                "not the pinned release's list; give option sha256 for another copy"
            )
        listed: dict[str, str] = {}
        for number, line in enumerate(sums.read_text(encoding="utf-8").splitlines(), 1):
            match = _SUMS_LINE.match(line)
            if match is None:
                raise SuiteError(f"{self.name}: line {number} of {sums} is not '<sha256>  <path>'")
            listed[match["path"]] = match["digest"].lower()
        on_disk = {path.relative_to(base).as_posix() for path in base.glob("*/*.ogg")}
        unlisted = sorted(on_disk - set(listed))
        if unlisted:
            raise SuiteError(f"{self.name}: {base / unlisted[0]} is not listed in {sums} ({len(unlisted)} unlisted file(s))")
        missing = sorted(set(listed) - on_disk)
        if missing:
            raise DataNotFoundError(f"{self.name}: {base / missing[0]} is missing ({len(missing)} of {len(listed)} clips)")
        signature = (actual_sums, tuple((p, (s := (base / p).stat()).st_size, s.st_mtime_ns) for p in sorted(listed)))
        if signature not in _VERIFIED:
            for relative, digest in sorted(listed.items()):
                if _sha256(base / relative) != digest:
                    raise SuiteError(f"{self.name}: checksum mismatch for {base / relative} (not the file {sums} lists)")
            _VERIFIED.add(signature)
        return list(listed)
