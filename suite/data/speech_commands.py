"""Google Speech Commands v0.02: one-second recordings of 35 spoken words, 16 kHz."""

from __future__ import annotations

import math
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import soundfile

from suite.data.base import SPLITS, AudioDataset, DataNotFoundError, register_dataset
from suite.errors import SuiteError

CORE_WORDS: tuple[str, ...] = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
UNKNOWN, SILENCE, BACKGROUND = "_unknown_", "_silence_", "_background_noise_"


@register_dataset
class SpeechCommands(AudioDataset):
    """Speech Commands v0.02 (Warden, 2018): 105,829 utterances of 35 words by 2,618 speakers.

    P. Warden, "Speech Commands: A Dataset for Limited-Vocabulary Speech Recognition",
    arXiv:1804.03209, 2018. Licence CC BY 4.0.

    Layout (the official archive unpacked): ``speech_commands/WORD/SPEAKER_nohash_N.wav``,
    ``validation_list.txt`` and ``testing_list.txt`` (paths like ``right/bb05582b_nohash_3.wav``;
    files in neither list train) and ``_background_noise_/*.wav``.

    Protocols:
        ``35``: every word folder is a class.
        ``12``: the task of the paper, Hello Edge and TensorFlow's example: the ten words
        yes, no, up, down, left, right, on, off, stop, go; ``_unknown_`` for every other word;
        and ``_silence_``, one-second windows of the background noise. In each split both
        extra classes get as many examples as the ten words have on average: unknown words
        are subsampled with a fixed seed, and silence windows are spread evenly over that
        split's background files. Of the background files in name order, the last is the
        test noise (``white_noise.wav`` in v0.02), the second to last the validation noise
        (``running_tap.wav``) and the others train, so no noise is shared between splits.
    """

    name = "speech_commands"
    version = "v0.02"
    folder = "speech_commands"
    sample_rate = 16000
    protocols = ("12", "35")
    default_protocol = "12"
    citation = (
        "P. Warden, Speech Commands: A Dataset for Limited-Vocabulary Speech Recognition, arXiv:1804.03209, 2018, "
        "https://arxiv.org/abs/1804.03209"
    )
    license = "CC BY 4.0"
    homepage = "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz"
    seed: ClassVar[int] = 0

    def _metadata(self) -> pd.DataFrame:
        base = self.path.absolute()
        listed = {"test": self._read_list(base / "testing_list.txt"), "validation": self._read_list(base / "validation_list.txt")}
        rows = []
        for folder in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
            wavs = sorted(folder.glob("*.wav"))
            if not wavs:
                raise SuiteError(f"speech_commands: class folder {folder} has no .wav files")
            for wav in wavs:
                relative = f"{folder.name}/{wav.name}"
                split = "test" if relative in listed["test"] else "validation" if relative in listed["validation"] else "train"
                speaker = wav.name.split("_nohash_")[0]
                rows.append({"path": str(wav), "label": folder.name, "split": split, "word": folder.name, "speaker": speaker})
        frame = pd.DataFrame(rows, columns=["path", "label", "split", "word", "speaker"])
        found = {f"{word}/{Path(path).name}" for word, path in zip(frame["word"], frame["path"], strict=True)}
        for split, list_name in (("test", "testing_list.txt"), ("validation", "validation_list.txt")):
            missing = sorted(listed[split] - found)
            if missing:
                raise SuiteError(
                    f"speech_commands: {base / list_name} names {len(missing)} missing file(s), the first {base / missing[0]}"
                )
        return frame if self.protocol == "35" else self._twelve(frame, base)

    @staticmethod
    def _read_list(path: Path) -> set[str]:
        if not path.is_file():
            raise DataNotFoundError(
                f"speech_commands: {path} is missing (expected validation_list.txt and testing_list.txt of the official archive)"
            )
        return {line.strip().replace("\\", "/") for line in path.read_text().splitlines() if line.strip()}

    def _twelve(self, frame: pd.DataFrame, base: Path) -> pd.DataFrame:
        absent = [word for word in CORE_WORDS if word not in set(frame["word"])]
        if absent:
            raise SuiteError(
                f"speech_commands: class folder {base / absent[0]} is missing (task 12 needs {', '.join(CORE_WORDS)})"
            )
        core = frame["word"].isin(CORE_WORDS)
        frame.loc[~core, "label"] = UNKNOWN
        noise = self._background_by_split(base / BACKGROUND)
        parts = [frame[core]]
        for index, split in enumerate(SPLITS):
            in_split = frame["split"] == split
            count = round(float(frame[core & in_split].groupby("word").size().reindex(CORE_WORDS, fill_value=0).mean()))
            unknown = frame[~core & in_split]
            if len(unknown) > count:
                # A seed per split, so each split's choice does not depend on the others' sizes.
                chosen = np.random.default_rng([self.seed, index]).choice(len(unknown), size=count, replace=False)
                unknown = unknown.iloc[np.sort(chosen)]
            parts += [unknown, self._silence(noise[split], count, split)]
        result = pd.concat([part for part in parts if len(part)], ignore_index=True)
        result["offset"] = result["offset"].fillna(0.0)
        return result

    @staticmethod
    def _background_by_split(folder: Path) -> dict[str, list[Path]]:
        files = sorted(folder.glob("*.wav")) if folder.is_dir() else []
        if len(files) < 3:
            raise SuiteError(
                f"speech_commands: {folder} holds {len(files)} .wav file(s); task 12 needs at least 3 "
                "(background noise for the train, validation and test silence)"
            )
        return {"train": files[:-2], "validation": [files[-2]], "test": [files[-1]]}

    @staticmethod
    def _silence(files: list[Path], count: int, split: str) -> pd.DataFrame:
        spans = []  # (file, latest start of a one-second window)
        for path in files:
            try:
                duration = soundfile.info(str(path)).duration
            except (RuntimeError, OSError) as error:
                raise SuiteError(f"speech_commands: cannot read background noise {path}: {error}") from None
            if duration >= 1.0:
                spans.append((path, duration - 1.0))
        if count and not spans:
            raise SuiteError(
                f"speech_commands: no background noise of at least 1 s for the {split} split ({', '.join(map(str, files))})"
            )
        total = sum(span for _, span in spans)
        rows = []
        for j in range(count):
            # Evenly spaced along the files laid end to end, so all of the split's noise is covered at one density.
            position = (j + 0.5) * total / count
            index = 0
            while index < len(spans) - 1 and position > spans[index][1]:
                position -= spans[index][1]
                index += 1
            path, span = spans[index]
            offset = math.floor(min(position, span) * 1000) / 1000
            rows.append(
                {"path": str(path), "label": SILENCE, "split": split, "offset": offset, "duration": 1.0, "word": BACKGROUND}
            )
        return pd.DataFrame(rows, columns=["path", "label", "split", "offset", "duration", "word"]).assign(speaker="")
