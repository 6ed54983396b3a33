"""The ESC-10 adapter: its own layout (spaces, Ogg Vorbis), checksums, and the shared copy.

Its folds are tested with the other fold adapters' in ``tests/test_datasets_public.py``.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from suite.cli import main
from suite.data import get_dataset
from suite.data.base import DataNotFoundError
from suite.errors import SuiteError
from tests.esc10_fixture import make_esc10, write_ogg, write_sums

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def esc10(tmp_path: Path) -> tuple[Path, str]:
    return tmp_path, make_esc10(tmp_path)


def test_an_ogg_clip_in_a_folder_with_spaces_decodes(esc10: tuple[Path, str]) -> None:
    root, sha = esc10
    dataset = get_dataset("esc10", root=root, sha256=sha)
    row = dataset.metadata().iloc[0]
    assert " " in Path(row["path"]).parent.name and row["path"].endswith(".ogg")
    waveform, rate = dataset.load(row)
    assert rate == 8000 and waveform.shape == (1, 2000) and abs(waveform).max() > 0.1


def test_the_pinned_release_list_refuses_another_copy_without_its_digest(esc10: tuple[Path, str]) -> None:
    root, _ = esc10
    with pytest.raises(SuiteError, match=r"checksum mismatch for .*SHA256SUMS .*not the pinned release's list"):
        get_dataset("esc10", root=root).metadata()


def test_a_missing_folder_says_where_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(
        DataNotFoundError, match=r"esc10: .*esc10 is missing; get the audio of https://github.com/karolpiczak/ESC-10"
    ):
        get_dataset("esc10", root=tmp_path).metadata()


def test_a_changed_clip_fails_naming_it(esc10: tuple[Path, str]) -> None:
    root, sha = esc10
    clip = root / "esc10" / "010 - Fire crackling" / "3-1030-A.ogg"
    write_ogg(clip, 2400.0, seed=99)  # another recording under the same name
    with pytest.raises(SuiteError, match=r"checksum mismatch for .*010 - Fire crackling/3-1030-A\.ogg"):
        get_dataset("esc10", root=root, sha256=sha).metadata()


def test_an_unlisted_or_missing_clip_fails_naming_it(esc10: tuple[Path, str]) -> None:
    root, sha = esc10
    extra = root / "esc10" / "001 - Dog bark" / "2-77-A.ogg"
    shutil.copy(root / "esc10" / "001 - Dog bark" / "2-20-A.ogg", extra)
    with pytest.raises(SuiteError, match=r"2-77-A\.ogg is not listed in .*SHA256SUMS"):
        get_dataset("esc10", root=root, sha256=sha).metadata()
    extra.unlink()
    (root / "esc10" / "001 - Dog bark" / "2-20-A.ogg").unlink()
    with pytest.raises(DataNotFoundError, match=r"2-20-A\.ogg is missing \(1 of 21 clips\)"):
        get_dataset("esc10", root=root, sha256=sha).metadata()


def test_takes_of_one_recording_in_two_folds_are_refused(esc10: tuple[Path, str]) -> None:
    root, _ = esc10
    shutil.move(root / "esc10" / "001 - Dog bark" / "1-10-B.ogg", root / "esc10" / "001 - Dog bark" / "2-10-B.ogg")
    sha = write_sums(root / "esc10")
    with pytest.raises(SuiteError, match="takes of Freesound clip 10 lie in more than one fold"):
        get_dataset("esc10", root=root, sha256=sha).metadata()


def test_a_bad_sha256_option_is_refused_at_once(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="sha256 option must be 64 hexadecimal digits"):
        get_dataset("esc10", root=tmp_path, sha256="abc")


@pytest.mark.skipif(not (SHARED / "esc10").is_dir(), reason="the shared ESC-10 copy is not beside the repository")
def test_the_shared_copy_verifies_and_has_the_official_folds() -> None:
    dataset = get_dataset("esc10", root=SHARED, protocol="fold1")
    frame = dataset.metadata()  # checks every clip against SHA256SUMS and SHA256SUMS against the pinned digest
    assert len(frame) == 400 and len(dataset.class_names) == 10
    assert frame.groupby("fold").size().to_dict() == {fold: 80 for fold in range(1, 6)}
    assert (frame.groupby("label").size() == 40).all()
    assert (frame.groupby("source")["fold"].nunique() == 1).all()  # no source recording in two folds
    assert dataset.describe()["examples"] == {"train": 240, "validation": 80, "test": 80}


def test_list_datasets_shows_the_citation_and_licence(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "datasets", "--format", "json"]) == 0
    rows = {row["dataset"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["esc10"]["license"] == "CC BY 3.0"
    assert "Piczak" in rows["esc10"]["citation"] and "fold1" in rows["esc10"]["protocols"]


def _run_cli(capsys: pytest.CaptureFixture[str], root: Path, sha: str, out: Path, tmp_path: Path) -> tuple[int, str]:
    settings = {
        "name": "esc10-bad",
        "dataset": {"name": "esc10", "protocol": "cv", "options": {"sha256": sha}},
        "input": {"sample_rate": 8000, "clip_seconds": 0.25},
        "models": ["mlp"],
        "budgets": {"params": ["5k"]},
        "training": {"epochs": 1},
    }
    config = tmp_path / "bad.yaml"
    config.write_text(json.dumps(settings))
    code = main(["run", str(config), "--data-root", str(root), "--out", str(out), "--cache-dir", str(tmp_path / "c")])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("damage", ["missing", "changed", "undecodable"])
def test_a_missing_or_damaged_copy_fails_in_one_line_and_writes_nothing(
    esc10: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    root, sha = esc10
    clip = root / "esc10" / "001 - Dog bark" / "4-40-A.ogg"
    if damage == "missing":
        shutil.rmtree(root / "esc10")
        expected = "esc10 is missing; get the audio of"
    elif damage == "changed":
        clip.write_bytes(clip.read_bytes()[:-10])
        expected = "checksum mismatch for .*001 - Dog bark/4-40-A.ogg"
    else:  # listed with its own checksum, yet not audio: decoding names it
        clip.write_bytes(b"OggS but not really")
        sha = write_sums(root / "esc10")
        expected = "cannot decode .*001 - Dog bark/4-40-A.ogg"
    out = tmp_path / "results"
    code, err = _run_cli(capsys, root, sha, out, tmp_path)
    lines = err.strip().splitlines()
    assert code != 0 and len(lines) == 1 and "Traceback" not in err, err
    assert re.search(expected, lines[0]), lines[0]
    assert not out.exists()  # nothing written: no run folder at all
