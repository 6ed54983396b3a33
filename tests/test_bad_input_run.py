"""`suite run` on bad input and a hostile system: one line, exit 2, nothing finished lost (issue 12, items 3, 5-9).

Permission cases use real permission bits. Root ignores them, so when the tests run as
root each such case runs its command with the effective user and group ``nobody``
(``os.seteuid``), in a folder every user can reach; otherwise as the user running them.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
import torch

# Modules `suite run` imports lazily, imported while root: see unprivileged().
import suite.executors
import suite.formatting
import suite.runner  # noqa: F401
from suite import feature_cache
from suite.audio import AudioDecodeError, read_audio
from suite.cli import build_parser
from suite.config import parse_config
from suite.data import get_dataset
from suite.data.base import AudioDataset
from suite.errors import SuiteError
from suite.input_spec import InputSpec
from suite.results import read_trial_lines, read_trial_log
from tests.test_bad_input import TINY, assert_one_line_error, audio_config, cli, run_audio, write_config

NOBODY = 65534


@contextlib.contextmanager
def unprivileged() -> Iterator[None]:
    """Run the block as a user that permission bits bind: ``nobody`` when the tests run as root."""
    if os.geteuid() != 0:
        yield
        return
    build_parser()  # imports what `suite` imports lazily: the interpreter itself may be where `nobody` cannot read
    try:
        os.setegid(NOBODY)
        os.seteuid(NOBODY)
    except PermissionError:
        os.setegid(0)
        pytest.skip("running as root without the right to change the effective user")
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


class Shared:
    """A folder every user can reach; :meth:`lock` changes a path's mode until the test ends."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="suite-perm-"))
        self.root.chmod(0o777)  # mkdtemp's 0700 would keep `nobody` out
        self._modes: list[tuple[Path, int]] = []

    def lock(self, path: Path, mode: int) -> Path:
        self._modes.append((path, stat.S_IMODE(path.stat().st_mode)))
        path.chmod(mode)
        return path

    def close(self) -> None:
        for path, mode in reversed(self._modes):
            path.chmod(mode)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def shared() -> Iterator[Shared]:
    folder = Shared()
    yield folder
    folder.close()


def no_data_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the data set is scanned: a folder that cannot be written must be refused before."""

    def scanned(self: AudioDataset) -> None:
        raise AssertionError("the data set was scanned before the unwritable folder was refused")

    monkeypatch.setattr(AudioDataset, "describe", scanned)


def last_line_error(code: int, err: str, message: str) -> str:
    """Trial lines may come first; the error is one line, the last, and no traceback."""
    assert code == 2 and "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("suite run: error:")]
    assert len(errors) == 1 and err.strip().splitlines()[-1] == errors[0] and message in errors[0], err
    return errors[0]


# --- item 3: folders that cannot be read or written ---------------------------------------------------------------------


@pytest.mark.parametrize("inside", [False, True], ids=["out itself", "a folder to create in it"])
def test_read_only_out_is_refused_before_the_data_scan(
    shared: Shared, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, inside: bool
) -> None:
    (shared.root / "ro").mkdir()
    locked = shared.lock(shared.root / "ro", 0o555)
    out = locked / "results" if inside else locked
    config = write_config(shared.root, TINY)
    no_data_scan(monkeypatch)
    data = ["--data-root", str(shared.root / "data"), "--cache-dir", str(shared.root / "c")]
    with unprivileged():
        code, _, err = cli(capsys, "run", str(config), "--out", str(out), *data)
    expected = f"cannot be created: {locked} is not writable" if inside else f"--out {out} is not writable"
    assert_one_line_error(code, err, expected)
    assert "permission denied" in err and not (locked / "results").exists()


def test_unwritable_cache_dir_is_refused_before_the_data_scan(
    shared: Shared, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (shared.root / "ro").mkdir()
    locked = shared.lock(shared.root / "ro", 0o555)
    config = write_config(shared.root, TINY)
    no_data_scan(monkeypatch)
    with unprivileged():
        code, _, err = cli(
            capsys, "run", str(config), "--out", str(shared.root / "r"), "--data-root", str(shared.root / "data"),
            "--cache-dir", str(locked / "c"),
        )  # fmt: skip
    assert_one_line_error(code, err, f"--cache-dir {locked / 'c'} cannot be created: {locked} is not writable")


def test_unreadable_data_root_is_one_line_naming_it(shared: Shared, capsys: pytest.CaptureFixture[str]) -> None:
    config = audio_config(shared.root, {})
    data = shared.lock(shared.root / "data", 0o000)
    with unprivileged():
        code, _, err = cli(
            capsys, "run", str(config), "--data-root", str(data), "--out", str(shared.root / "r"),
            "--cache-dir", str(shared.root / "c"),
        )  # fmt: skip
    assert_one_line_error(code, err, f"manifest: cannot access {data / 'mine'}: Permission denied (data root {data})")
    assert not (shared.root / "r").exists()


def test_a_default_data_root_that_cannot_be_entered_is_no_traceback(shared: Shared, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = shared.lock(shared.root, 0o700)  # the default data root lies in a home folder others cannot enter
    monkeypatch.setenv("SUITE_DATA_ROOT", str(locked / "data"))
    with unprivileged():
        assert get_dataset("synthetic").metadata()["split"].nunique() == 3  # generated: it needs no folder at all
        with pytest.raises(SuiteError, match=f"manifest: cannot access {locked / 'data' / 'mine'}: Permission denied"):
            get_dataset("manifest", folder="mine", file="all.csv").metadata()


# --- item 5: reading a damaged or unreadable trials.jsonl ---------------------------------------------------------------


def test_damaged_lines_are_named_and_skipped(tmp_path: Path) -> None:
    log = tmp_path / "trials.jsonl"
    good = json.dumps({"trial_id": "a", "accuracy": 0.5})
    huge = '{"trial_id": "b", "params": ' + "9" * 400 + "}"
    latin = b'{"trial_id": "c", "model": "ml\xff"}'
    log.write_bytes(b"\n".join([good.encode(), latin, huge.encode(), b"{oops", b"[1, 2]", b'{"trial_id']))
    read = read_trial_lines(log)
    assert [r["trial_id"] for r in read.records] == ["a", "b"]
    assert read.records[1]["params"] == float("inf")  # no float holds it: a figure that is not finite, not a crash
    assert read.rejected == [
        (2, f"is not UTF-8 (byte 0xff at column {latin.index(0xFF) + 1})"),
        (4, "is not valid JSON"),
        (5, "is not a record (a JSON list, not an object)"),
        (6, "is incomplete (a crash mid-write?)"),
    ]
    with pytest.warns(UserWarning, match=r"line 2 is not UTF-8 .*; line 4 is not valid JSON; .*; and 1 more; ignored"):
        assert len(read_trial_log(log)[0]) == 2


def test_an_unreadable_trials_log_is_one_line(shared: Shared, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(shared.root, TINY)
    argv = ["--data-root", str(shared.root / "data"), "--cache-dir", str(shared.root / "c")]
    assert cli(capsys, "run", str(config), "--out", str(shared.root / "r"), *argv)[0] == 0
    (run,) = (shared.root / "r").iterdir()
    for folder in (run, shared.root / "c"):  # writable: what `nobody` cannot do is read the log
        shared.lock(folder, 0o777)
    log = shared.lock(run / "trials.jsonl", 0o000)
    with unprivileged():
        code, _, err = cli(capsys, "run", str(config), "--resume", str(run), *argv)
    assert_one_line_error(code, err, f"cannot read {log}: Permission denied")


# --- item 6: disk full, file-size limits --------------------------------------------------------------------------------


@contextlib.contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """A real RLIMIT_FSIZE on this process for the block: a write past ``limit`` bytes fails with EFBIG."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the signal kills the process (Python ignores it too)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def test_a_file_size_limit_on_the_feature_cache_falls_back_to_memory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """torch.save used to fail with 'unexpected pos' (a RuntimeError, not caught): every trial failed, and the run exited 0."""
    config = write_config(tmp_path, TINY)
    argv = ["run", str(config), "--out", str(tmp_path / "r"), "--cache-dir", str(tmp_path / "c")]
    warning = r"could not write the feature cache .*\.pt \(File too large\); features stay in memory"
    with pytest.warns(UserWarning, match=warning) as warned, file_size_limit(100_000):  # the features: about 480 kB
        code, _, err = cli(capsys, *argv)
    assert code == 0 and "Traceback" not in err and "unexpected pos" not in err, err
    assert len([w for w in warned if "feature cache" in str(w.message)]) == 1  # once, not once per trial
    (run,) = (tmp_path / "r").iterdir()
    assert [json.loads(line)["status"] for line in (run / "trials.jsonl").read_text().splitlines()] == ["ok"]
    assert list((tmp_path / "c").iterdir()) == []  # no half-written cache file, no temporary file


def test_a_cache_error_that_is_not_a_failed_write_is_not_hidden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in saving")

    monkeypatch.setattr(feature_cache.torch, "save", broken)
    synthetic = get_dataset("synthetic", root=tmp_path, n_classes=2, examples_per_class=5)
    with pytest.raises(RuntimeError, match="a bug in saving"):
        feature_cache.file_features(synthetic, InputSpec(sample_rate=8000, clip_seconds=0.5), tmp_path / "c", progress=False)
    assert list((tmp_path / "c").iterdir()) == []


def test_a_file_size_limit_while_appending_a_trial_stops_in_one_line_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The append used to end in a raw OSError traceback, leaving half a record and no "resume with" line."""
    config = write_config(tmp_path, TINY | {"models": ["mlp", "cnn1d"]})
    argv = ["--cache-dir", str(tmp_path / "c")]
    assert cli(capsys, "run", str(config), "--out", str(tmp_path / "r"), *argv)[0] == 0
    (run,) = (tmp_path / "r").iterdir()
    log = run / "trials.jsonl"
    first, second = log.read_text().splitlines(keepends=True)
    padded = first + "\n" * 200_000  # the second trial is to run again; blank lines make the log the largest file
    log.write_text(padded)
    with file_size_limit(len(padded) + len(second) // 2):  # the limit falls in the middle of the second record
        code, _, err = cli(capsys, "run", str(config), "--resume", str(run), *argv)
    line = last_line_error(code, err, f"stopped: cannot write {log}: File too large")
    assert "1 of 2 trials finished" in line and "is not saved; it runs again on resume" in line, line
    resume = f"resume with: suite run {config} --resume {run} --cache-dir {tmp_path / 'c'}"
    assert line.endswith(resume), line
    assert log.read_text() == padded  # cut back to where it was: no half record
    code, _, err = cli(capsys, *resume.removeprefix("resume with: suite ").split())  # the printed command finishes it
    assert code == 0, err
    assert [json.loads(text)["model"] for text in log.read_text().splitlines() if text] == ["mlp", "cnn1d"]
    assert not (run / "trials.jsonl.rejected").exists()


# --- item 7: resume keeps every line it drops ----------------------------------------------------------------------------


def test_resume_moves_lines_it_cannot_read_to_a_rejected_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, TINY | {"models": ["mlp", "cnn1d"]})
    argv = ["--cache-dir", str(tmp_path / "c")]
    assert cli(capsys, "run", str(config), "--out", str(tmp_path / "r"), *argv)[0] == 0
    (run,) = (tmp_path / "r").iterdir()
    log, rejected = run / "trials.jsonl", run / "trials.jsonl.rejected"
    first, second = log.read_bytes().splitlines(keepends=True)
    bad = [b'{"trial_id": "x", "accuracy": 0.9, broken\n', b'{"model": "\xff\xfe"}\n', b'{"trial_id": "y", "mod']
    log.write_bytes(first + bad[0] + bad[1] + second + bad[2])  # damage in the middle, not only a partial last line
    rejected.write_bytes(b"kept from an earlier resume\n")
    code, _, err = cli(capsys, "run", str(config), "--resume", str(run), *argv)
    assert code == 0, err
    assert f"resume: moved 3 lines of {log} to {rejected}: line 2 is not valid JSON; line 3 is not UTF-8" in err
    assert rejected.read_bytes() == b"kept from an earlier resume\n" + bad[0] + bad[1] + bad[2] + b"\n"  # appended, as written
    assert log.read_bytes() == first + second  # the records themselves, byte for byte; no trial ran again
    (resumed,) = json.loads((run / "manifest.json").read_text())["resumed"]
    assert resumed["rejected_lines"] == {"count": 3, "moved_to": "trials.jsonl.rejected"}


# --- item 8: NaN and infinite samples -------------------------------------------------------------------------------------


def write_float_wav(path: Path, bad: float) -> Path:
    """0.3 s of float noise at 8 kHz with one sample ``bad`` (a float WAV can hold NaN and infinities)."""
    data = (np.random.default_rng(0).standard_normal(2400) * 0.1).astype(np.float32)
    data[1000] = bad
    soundfile.write(str(path), data, 8000, subtype="FLOAT")
    return path


def test_read_audio_refuses_nan_and_infinity(tmp_path: Path) -> None:
    with pytest.raises(AudioDecodeError, match=r"nan\.wav holds NaN samples \(first at sample 1000\)"):
        read_audio(write_float_wav(tmp_path / "nan.wav", float("nan")))
    with pytest.raises(AudioDecodeError, match=r"inf\.wav holds infinite samples"):
        read_audio(write_float_wav(tmp_path / "inf.wav", float("-inf")))
    late = read_audio(write_float_wav(tmp_path / "late.wav", float("nan")), offset=0.2)  # a window after the NaN is fine
    assert late[0].shape == (1, 800) and np.isfinite(late[0]).all()


@pytest.mark.parametrize(("split", "bad"), [("train", float("nan")), ("test", float("inf"))])
def test_a_nan_or_infinite_sample_is_named_with_its_split_or_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], split: str, bad: float
) -> None:
    for policy in ("raise", "skip"):
        config = audio_config(tmp_path, {}, on_error=policy)
        root = tmp_path / "data" / "mine"
        table = pd.read_csv(root / "all.csv")
        table.loc[len(table)] = {"path": write_float_wav(root / "bad.wav", bad).name, "label": "a", "split": split}
        table.to_csv(root / "all.csv", index=False)
        code, err, run = run_audio(tmp_path, capsys, config, out=policy)
        if policy == "raise":
            kind = "NaN" if np.isnan(bad) else "infinite"
            assert_one_line_error(
                code, err, f"{root / 'bad.wav'} holds {kind} samples (first at sample 1000) (in the {split} split)"
            )
            continue
        assert code == 0 and run is not None, err
        (skipped,) = json.loads((run / "manifest.json").read_text())["features"]["logmel"]["skipped"]
        assert skipped[0] == str(root / "bad.wav")
        assert json.loads((run / "trials.jsonl").read_text())["status"] == "ok"


def test_features_that_overflow_are_refused_or_skipped() -> None:
    features = torch.zeros(3, 2, 4)
    features[1, 0, 0] = float("inf")
    skipped: list[list[str]] = []
    with pytest.raises(AudioDecodeError, match=r"b\.wav gives NaN or infinite logmel features .* \(in the test split\)"):
        feature_cache._finite_rows(features, ["a.wav", "b.wav", "c.wav"], "logmel features", "test", "raise", skipped)
    keep = feature_cache._finite_rows(features, ["a.wav", "b.wav", "c.wav"], "logmel features", "test", "skip", skipped)
    assert keep.tolist() == [True, False, True] and [row[0] for row in skipped] == ["b.wav"]


# --- item 9: YAML alias bombs and long values in messages -----------------------------------------------------------------


def alias_bomb(levels: int) -> str:
    """``[&a0 [lol x9], &a1 [*a0 x9], ...]``: ``levels`` aliases deep, 9 ** levels strings once expanded."""
    parts = ["&a0 [" + ", ".join(["lol"] * 9) + "]"]
    parts += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    return "[" + ", ".join(parts) + "]"


@pytest.mark.parametrize("where", ["description", "options"])
def test_yaml_aliases_are_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str) -> None:
    bomb = alias_bomb(9)
    options = "n_classes: 3, examples_per_class: 10" + (f", bomb: {bomb}" if where == "options" else "")
    description = bomb if where == "description" else "x"
    dataset = f"{{name: synthetic, options: {{{options}}}}}"
    text = f"name: tiny\ndescription: {description}\ndataset: {dataset}\nbudgets: {{params: [20k]}}\n"
    code, _, err = cli(capsys, "run", str(write_config(tmp_path, text)), "--out", str(tmp_path / "r"))
    assert_one_line_error(code, err, "YAML anchor 'a0' at line")
    assert "anchors and aliases are not allowed in a config" in err and len(err) < 400


LONG = "x" * 100_000
LONG_VALUE_CASES = {
    "a long seed": (TINY | {"seeds": [LONG]}, "seeds.0: Input should be a valid integer"),
    "a long unknown key": (TINY | {LONG: 1}, "unknown key 'xxxxx"),
    "a long model name": (TINY | {"models": [LONG]}, "unknown model"),
    "a long protocol": (TINY | {"dataset": {"name": "synthetic", "protocol": LONG}}, "synthetic: unknown protocol 'xxx"),
    "a long files option": (TINY | {"dataset": {"name": "manifest", "options": {"files": LONG}}}, "cannot read files='xxx"),
    "a long budget": (TINY | {"budgets": {"params": [LONG]}}, "malformed budget 'xxx"),
    "a long data set name": (TINY | {"dataset": {"name": LONG}}, "unknown data set 'xxx"),
}


@pytest.mark.parametrize("case", list(LONG_VALUE_CASES))
def test_long_values_are_cut_in_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    settings, message = LONG_VALUE_CASES[case]
    code, _, err = cli(capsys, "run", str(write_config(tmp_path, settings)), "--out", str(tmp_path / "r"))
    assert_one_line_error(code, err, message)
    assert len(err) < 1000 and ("…" in err or "..." in err), err[:2000]


def test_a_value_given_to_parse_config_is_cut_too() -> None:
    with pytest.raises(SuiteError, match=r"on_error: Input should be 'raise' or 'skip' \(got 'x{90}") as raised:
        parse_config(TINY | {"on_error": LONG})
    assert len(str(raised.value)) < 400


SYNTHETIC_OPTION_CASES = {
    "a list": ({"n_classes": [3, 4]}, "synthetic: option n_classes must be a whole number, got [3, 4]"),
    "a fraction": ({"examples_per_class": 7.5}, "synthetic: option examples_per_class must be a whole number, got 7.5"),
    "a word": ({"clip_seconds": "long"}, "synthetic: option clip_seconds must be a number, got 'long'"),
    "infinity": ({"clip_seconds": float("inf")}, "synthetic: option clip_seconds must be a number, got inf"),
    "a zero rate": ({"sample_rate": 0}, "synthetic: sample_rate must be positive and clip_seconds in (0, 60]"),
}


@pytest.mark.parametrize("case", list(SYNTHETIC_OPTION_CASES))
def test_a_data_set_option_of_the_wrong_type_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    options, message = SYNTHETIC_OPTION_CASES[case]
    settings = TINY | {"dataset": {"name": "synthetic", "options": {"n_classes": 3, "examples_per_class": 10} | options}}
    code, _, err = cli(capsys, "run", str(write_config(tmp_path, settings)), "--out", str(tmp_path / "r"))
    assert_one_line_error(code, err, message)
