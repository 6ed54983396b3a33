"""Resuming: a run killed with SIGKILL ends with every trial done once; what may and may not be resumed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from suite.cli import main
from suite.config import parse_config
from suite.data import get_dataset
from suite.errors import SuiteError
from suite.results import RunWriter
from suite.results.load import load_results
from suite.runner import run_config
from tests.faulty_models import faulty_models
from tests.helpers import TINY
from tests.helpers_audio import write_wav

ROOT = Path(__file__).resolve().parents[1]


def log_lines(run_dir: Path) -> list[dict]:
    """Whole records only: a SIGKILL can land in the middle of an append."""
    records = []
    for line in (run_dir / "trials.jsonl").read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_sigkill_midway_then_resume_does_every_trial_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = TINY | {"models": ["mlp", "sleepy", "cnn1d"], "seeds": [0, 1]}  # sleepy: about 1.5 s a trial
    config = tmp_path / "tiny.yaml"
    config.write_text(json.dumps(settings))
    out, cache = tmp_path / "r", tmp_path / "c"
    argv = ["run", str(config), "--out", str(out), "--cache-dir", str(cache)]
    script = f"import sys; import tests.faulty_models as f; f.register(); from suite.cli import main; sys.exit(main({argv!r}))"
    child = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    log = None
    while time.monotonic() < deadline and child.poll() is None:
        log = next(out.glob("tiny-*/trials.jsonl"), None)
        if log is not None and log.read_text().count("\n") >= 2:
            break
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert log is not None, "the run wrote no trial within 120 s"
    run_dir = log.parent
    before = log_lines(run_dir)
    assert 2 <= len(before) < 6, "the kill came after the run had ended"
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "running"  # killed: no chance to say more

    with faulty_models():
        code, _, err = cli(capsys, "run", str(config), "--resume", "--out", str(out), "--cache-dir", str(cache))
    assert code == 0, err
    assert [p.name for p in out.iterdir()] == [run_dir.name]  # resumed in place, no second folder
    records = log_lines(run_dir)
    ids = [r["trial_id"] for r in records]
    assert len(ids) == len(set(ids)) == 6  # every trial once, none twice
    assert records[: len(before)] == before  # what finished before the kill was kept, not redone
    assert {r["pid"] for r in records[: len(before)]} == {child.pid} and records[-1]["pid"] == os.getpid()
    table = pd.read_csv(run_dir / "results.csv", dtype={"trial_id": str})
    assert len(table) == 6 and table["trial_id"].is_unique and set(table["trial_id"]) == set(ids)
    assert (table["status"] == "ok").all()
    assert table["model"].tolist() == ["mlp", "sleepy", "cnn1d"] * 2  # planned order: every family at seed 0 first
    assert table["seed"].tolist() == [0, 0, 0, 1, 1, 1]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete" and len(manifest["resumed"]) == 1
    assert [machine["trials"] for machine in manifest["machines"]] == [6]  # both processes ran on this host
    assert not list(run_dir.glob(".*.part"))  # a rename the kill interrupted leaves nothing behind

    with faulty_models():
        code, _, err = cli(capsys, "run", str(config), "--resume", str(run_dir), "--cache-dir", str(cache))
    assert code == 0 and len(log_lines(run_dir)) == 6, err  # resuming a complete run does nothing


def test_a_partial_last_line_is_ignored_with_a_note_then_moved_aside_on_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = parse_config(TINY)
    run_dir = run_config(config, out=tmp_path, cache_dir=tmp_path / "c", progress=False)
    with (run_dir / "trials.jsonl").open("a") as log:
        log.write('{"trial_id": "abc", "model": "cn')  # a power cut mid-append
    loaded = load_results([run_dir])
    assert len(loaded.trials) == 2 and any("line 3 of trials.jsonl is incomplete" in note for note in loaded.notes)
    capsys.readouterr()
    again = run_config(config, out=tmp_path, cache_dir=tmp_path / "c", progress=False, resume=run_dir)
    assert again == run_dir
    assert len(log_lines(run_dir)) == 2  # the log is written anew without the line; nothing re-run
    assert (run_dir / "trials.jsonl.rejected").read_text() == '{"trial_id": "abc", "model": "cn\n'  # kept, not lost
    err = capsys.readouterr().err
    log, rejected = run_dir / "trials.jsonl", run_dir / "trials.jsonl.rejected"
    assert f"resume: moved 1 line of {log} to {rejected}: line 3 is incomplete" in err


def test_retry_failed_reruns_only_the_failed_trials(tmp_path: Path) -> None:
    with faulty_models():
        config = parse_config(TINY | {"models": ["mlp", "raises"]})
        run_dir = run_config(config, out=tmp_path, cache_dir=tmp_path / "c", progress=False)
        run_config(config, out=tmp_path, cache_dir=tmp_path / "c", progress=False, resume=run_dir)
        assert len(log_lines(run_dir)) == 2  # failed trials stay failed unless asked
        run_config(config, out=tmp_path, cache_dir=tmp_path / "c", progress=False, resume=run_dir, retry_failed=True)
    records = log_lines(run_dir)
    assert [r["model"] for r in records] == ["mlp", "raises", "raises"]  # the retry is appended, the log never rewritten
    table = pd.read_csv(run_dir / "results.csv")
    assert table["model"].tolist() == ["mlp", "raises"]  # one row per trial: the latest record


def test_out_naming_a_run_folder_resumes_it(tmp_path: Path) -> None:
    config = parse_config(TINY)
    run_dir = run_config(config, out=tmp_path, cache_dir=tmp_path / "c", progress=False)
    assert run_config(config, out=run_dir, cache_dir=tmp_path / "c", progress=False) == run_dir
    assert len(log_lines(run_dir)) == 2 and len(list(tmp_path.glob("tiny-*"))) == 1


def test_resume_without_an_earlier_run_starts_one(tmp_path: Path) -> None:
    config = parse_config(TINY | {"models": ["mlp"]})
    run_dir = run_config(config, out=tmp_path, cache_dir=tmp_path / "c", progress=False, resume=True)
    assert len(log_lines(run_dir)) == 1


def test_a_folder_in_use_is_refused(tmp_path: Path) -> None:
    config = parse_config(TINY | {"models": ["mlp"]})
    run_dir = run_config(config, out=tmp_path, cache_dir=tmp_path / "c", progress=False)
    holder = RunWriter(run_dir)
    holder.lock()  # another driver on the same folder
    try:
        with pytest.raises(SuiteError, match="is in use by another `suite run`"):
            run_config(config, out=tmp_path, cache_dir=tmp_path / "c", progress=False, resume=run_dir, retry_failed=True)
    finally:
        holder.close()


def _recordings(root: Path) -> None:
    """Ten short recordings and their CSV under ``root``/mine."""
    rows = []
    for split, count in (("train", 6), ("validation", 2), ("test", 2)):
        for index in range(count):
            path = write_wav(root / "mine" / f"{split}{index}.wav", 0.3, 8000, seed=index)
            rows.append({"path": path.name, "label": "ab"[index % 2], "split": split})
    pd.DataFrame(rows).to_csv(root / "mine" / "all.csv", index=False)


def test_resume_takes_a_fresh_copy_of_the_data_and_refuses_changed_bytes(tmp_path: Path) -> None:
    _recordings(tmp_path / "here")
    dataset = {"name": "manifest", "options": {"folder": "mine", "file": "all.csv", "sample_rate": 8000}}
    config = parse_config(TINY | {"models": ["mlp"], "dataset": dataset, "input": {"sample_rate": 8000, "clip_seconds": 0.5}})
    options = {"out": tmp_path / "runs", "cache_dir": tmp_path / "c", "progress": False}
    run_dir = run_config(config, data_root=tmp_path / "here", **options)
    # Another machine's checkout: the same bytes, every file written anew (new modification times).
    time.sleep(0.01)
    shutil.copytree(tmp_path / "here", tmp_path / "there", copy_function=shutil.copyfile)
    assert run_config(config, data_root=tmp_path / "there", resume=run_dir, **options) == run_dir
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["resumed"][-1]["environment"]["git"] == manifest["environment"]["git"]
    assert [(m["host"], m["trials"]) for m in manifest["machines"]] == [(log_lines(run_dir)[0]["host"], 1)]
    # One sample changed, the file's size kept: the size-and-label digest cannot see it, the bytes can.
    before = get_dataset("manifest", root=tmp_path / "there", **dataset["options"]).content_digest()
    wav = tmp_path / "there" / "mine" / "train0.wav"
    data = bytearray(wav.read_bytes())
    data[-1] ^= 0x01
    wav.write_bytes(bytes(data))
    assert get_dataset("manifest", root=tmp_path / "there", **dataset["options"]).content_digest() == before
    with pytest.raises(SuiteError, match="bytes of the data files differ"):
        run_config(config, data_root=tmp_path / "there", resume=run_dir, **options)
