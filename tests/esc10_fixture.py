"""A tiny ESC-10 copy in the data set's own layout: class folders with spaces, Ogg Vorbis clips, SHA256SUMS."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import soundfile

#: Two classes whose clips a small model tells apart (a low and a high tone), in folders named as ESC-10's are.
CLASSES = {"001 - Dog bark": 300.0, "010 - Fire crackling": 2400.0}
FOLDS = 5
CLIPS_PER_FOLD = 2  # per class: 2 classes x 2 clips x 5 folds = 20 clips
RATE = 8000
SECONDS = 0.25


def write_ogg(path: Path, frequency: float, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(round(RATE * SECONDS)) / RATE
    noise = np.random.default_rng(seed).standard_normal(len(t)) * 0.05
    soundfile.write(path, 0.5 * np.sin(2 * np.pi * frequency * t) + noise, RATE, format="OGG", subtype="VORBIS")


def write_sums(base: Path) -> str:
    """Write ``SHA256SUMS`` for every clip under ``base``; returns its own sha256 (the adapter's ``sha256`` option)."""
    lines = []
    for path in sorted(base.glob("*/*.ogg")):
        lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.relative_to(base).as_posix()}\n")
    text = "".join(lines)
    (base / "SHA256SUMS").write_text(text)
    return hashlib.sha256(text.encode()).hexdigest()


def make_esc10(root: Path) -> str:
    """Write the copy in ``root/esc10``; returns the sha256 of its ``SHA256SUMS``.

    Clip ``F-ID-T.ogg``: fold F, one Freesound id per (class, fold, clip), take A; a
    second take (B) of the first source of each fold, as ESC-10 has, in the same fold.
    """
    base = root / "esc10"
    seed = 0
    for number, (folder, frequency) in enumerate(CLASSES.items()):
        for fold in range(1, FOLDS + 1):
            for clip in range(CLIPS_PER_FOLD):
                source = 1000 * number + 10 * fold + clip
                write_ogg(base / folder / f"{fold}-{source}-A.ogg", frequency, seed := seed + 1)
    write_ogg(base / "001 - Dog bark" / "1-10-B.ogg", 300.0, seed + 1)
    (base / "README.txt").write_text("test copy\n")
    return write_sums(base)
