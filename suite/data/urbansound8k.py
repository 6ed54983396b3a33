"""UrbanSound8K: 8,732 urban sound excerpts of up to 4 s in 10 classes, ten folds."""

from __future__ import annotations

import pandas as pd

from suite.data.base import register_dataset
from suite.data.manifest import FoldedDataset, read_table


@register_dataset
class UrbanSound8K(FoldedDataset):
    """UrbanSound8K (Salamon et al., 2014): 8,732 excerpts (<= 4 s) of 10 urban sound classes.

    J. Salamon, C. Jacoby and J. P. Bello, "A Dataset and Taxonomy for Urban Sound
    Research", Proc. ACM Multimedia 2014, https://doi.org/10.1145/2647868.2655045.
    Licence CC BY-NC 3.0 (non-commercial use only). Rates, bit depths and channel counts
    vary between files (mostly 44.1 kHz); the suite resamples.

    Layout: ``urbansound8k/audio/fold{1..10}/*.wav`` and
    ``urbansound8k/metadata/UrbanSound8K.csv`` (columns ``slice_file_name, fsID, start,
    end, salience, fold, classID, class``), as in the official archive.

    Protocols:
        ``fold1`` ... ``fold10``: fold K is the test set, fold (K mod 10) + 1 the
        validation set, the other eight train. The authors ask for results over the
        predefined folds only (excerpts of one recording share a fold) and averaged over all ten.
    """

    name = "urbansound8k"
    version = "1.0"
    folder = "urbansound8k"
    sample_rate = 44100
    n_folds = 10
    citation = (
        "J. Salamon, C. Jacoby and J. P. Bello, A Dataset and Taxonomy for Urban Sound Research, "
        "Proc. 22nd ACM International Conference on Multimedia, 2014, https://doi.org/10.1145/2647868.2655045"
    )
    license = "CC BY-NC 3.0"
    homepage = "https://urbansounddataset.weebly.com/urbansound8k.html"

    def _metadata(self) -> pd.DataFrame:
        base = self.path.absolute()
        csv = base / "metadata" / "UrbanSound8K.csv"
        table = read_table(csv, ("slice_file_name", "fold", "class"), self.name)

        def paths(rows: pd.DataFrame) -> list[str]:
            folders = [base / "audio" / f"fold{int(fold)}" for fold in rows["fold"]]
            return [str(folder / name) for folder, name in zip(folders, rows["slice_file_name"], strict=True)]

        # start/end locate the excerpt in its Freesound source, not in the slice file: informational only.
        return self.fold_frame(csv, table, paths, "slice_file_name", "class")
