"""ESC-50: 2,000 five-second environmental recordings in 50 classes, five folds."""

from __future__ import annotations

import pandas as pd

from suite.data.base import register_dataset
from suite.data.manifest import FoldedDataset, read_table


@register_dataset
class ESC50(FoldedDataset):
    """ESC-50 (Piczak, 2015): 2,000 clips of 5 s, 44.1 kHz mono, 40 per class in 50 classes.

    K. J. Piczak, "ESC: Dataset for Environmental Sound Classification", Proc. ACM
    Multimedia 2015, https://doi.org/10.1145/2733373.2806390. Licence CC BY-NC 3.0
    (non-commercial use only). Clips from one Freesound recording share a fold.

    Layout: ``esc50/audio/*.wav`` and ``esc50/meta/esc50.csv`` (columns ``filename, fold,
    target, category, esc10, src_file, take``), as in the repository's archive.

    Protocols:
        ``fold1`` ... ``fold5``: fold K is the test set, fold (K mod 5) + 1 the
        validation set, the other three train. Results are usually averaged over all five.
    """

    name = "esc50"
    version = "2.0.0"
    folder = "esc50"
    sample_rate = 44100
    n_folds = 5
    citation = (
        "K. J. Piczak, ESC: Dataset for Environmental Sound Classification, Proc. 23rd ACM International Conference "
        "on Multimedia, 2015, https://doi.org/10.1145/2733373.2806390"
    )
    license = "CC BY-NC 3.0"
    homepage = "https://github.com/karolpiczak/ESC-50"

    def _metadata(self) -> pd.DataFrame:
        base = self.path.absolute()
        csv = base / "meta" / "esc50.csv"
        table = read_table(csv, ("filename", "fold", "category"), self.name)
        audio = base / "audio"
        return self.fold_frame(csv, table, lambda rows: [str(audio / name) for name in rows["filename"]], "filename", "category")
