"""Helpers that write small audio fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def write_wav(
    path: Path, seconds: float = 0.5, rate: int = 8000, channels: int = 1, subtype: str = "PCM_16", seed: int = 0
) -> Path:
    """A short low-level noise recording."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    data = (rng.standard_normal((int(seconds * rate), channels)) * 0.1).astype(np.float32)
    soundfile.write(str(path), data, rate, subtype=subtype)
    return path
