"""Bad input to every command: either handled correctly, or one line naming the problem, exit 2, no traceback.

The table of what each input gives is in the pull request (and ``/tmp/issue7_badinput.md``);
each row is one case here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from suite.cli import main
from tests.helpers_audio import write_wav
from tests.report_fixtures import build_run
from tests.test_datasets_public import make_speech_commands

TINY = {
    "name": "tiny",
    "dataset": {"name": "synthetic", "options": {"n_classes": 3, "examples_per_class": 10}},
    "models": ["mlp"],
    "budgets": {"params": ["20k"]},
    "training": {"epochs": 1, "batch_size": 8, "patience": 1},
}


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exit_:  # argparse's usage errors
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, message: str) -> None:
    assert code == 2, err
    assert message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


def write_config(folder: Path, settings: dict | str) -> Path:
    path = folder / "config.yaml"
    path.write_text(settings if isinstance(settings, str) else yaml.safe_dump(settings))
    return path


CONFIG_CASES = {
    "malformed YAML": ("name: x\ndataset: {name: synthetic\nbudgets: [\n", "malformed YAML at line"),
    "not a mapping": ("- a\n- b\n", "expected a mapping of settings at the top level"),
    "unknown key": (TINY | {"modles": ["mlp"]}, "unknown key 'modles' (did you mean 'models'?)"),
    "unknown nested key": (TINY | {"training": {"epoch": 3}}, "unknown key 'training.epoch' (did you mean 'epochs'?)"),
    "zero budget": (TINY | {"budgets": {"params": [0]}}, "budget 0 must be a positive whole number"),
    "negative budget": (TINY | {"budgets": {"macs": [-5]}}, "budget -5 must be a positive whole number"),
    "no budget": (TINY | {"budgets": []}, "budgets: List should have at least 1 item"),
    "empty model list": (TINY | {"models": []}, "no model selected"),
    "zero epochs": (TINY | {"training": {"epochs": 0}}, "training.epochs: Input should be greater than or equal to 1"),
    "zero trial_timeout": (TINY | {"trial_timeout": 0}, "trial_timeout: Input should be greater than 0"),
}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_run_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    settings, message = CONFIG_CASES[case]
    code, _, err = cli(capsys, "run", str(write_config(tmp_path, settings)), "--out", str(tmp_path / "r"))
    assert_one_line_error(code, err, message)
    assert not (tmp_path / "r").exists()  # nothing is written for a config that cannot run


def test_debug_shows_the_traceback_for_a_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "--debug", "run", str(write_config(tmp_path, TINY | {"models": []})))
    assert code == 2 and "Traceback" in err


RUN_OPTION_CASES = {
    "data root is a file": (["--data-root", "{file}"], "is a file, not a folder"),
    "out is a file": (["--out", "{file}"], "is a file, not a folder"),
    "zero cpus per trial": (["--executor", "ray", "--cpus-per-trial", "0"], "expected more than 0, got 0"),
    "negative gpus per trial": (["--executor", "ray", "--gpus-per-trial=-1"], "expected at least 0, got -1"),
    "unknown executor": (["--executor", "slurm"], "invalid choice: 'slurm'"),
    "ray option with local": (["--cpus-per-trial", "2"], "cpus-per-trial only apply to --executor ray"),
    "retry without resume": (["--retry-failed"], "--retry-failed only applies when resuming a run"),
    "resume a missing folder": (["--resume", "{missing}"], "no such folder"),
    "resume a folder that is not a run": (["--resume", "{plain}"], "not a run folder of `suite run`"),
}


@pytest.mark.parametrize("case", list(RUN_OPTION_CASES))
def test_run_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    options, message = RUN_OPTION_CASES[case]
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "plain").mkdir()
    paths = {"file": tmp_path / "a-file", "missing": tmp_path / "nope", "plain": tmp_path / "plain"}
    options = [option.format(**paths) for option in options]
    code, _, err = cli(capsys, "run", str(write_config(tmp_path, TINY)), "--cache-dir", str(tmp_path / "c"), *options)
    assert_one_line_error(code, err, message)


def older_run(parent: Path) -> Path:
    """A results folder as the suite wrote it before results format 2 (no format, executor or worker fields)."""
    run = build_run(parent, name="tiny", models=["mlp"], seeds=[0], measure=False)
    manifest = json.loads((run / "manifest.json").read_text())
    for key in ("results_format", "executor"):
        manifest.pop(key)
    (run / "manifest.json").write_text(json.dumps(manifest))
    records = [json.loads(line) for line in (run / "trials.jsonl").read_text().splitlines()]
    lines = [json.dumps({k: v for k, v in r.items() if k not in ("threads", "host", "pid")}) for r in records]
    (run / "trials.jsonl").write_text("\n".join(lines) + "\n")
    return run


def test_resume_refuses_an_older_results_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = older_run(tmp_path / "results")
    code, _, err = cli(capsys, "run", str(write_config(tmp_path, TINY)), "--resume", str(run), "--cache-dir", str(tmp_path / "c"))
    assert_one_line_error(code, err, "was written by an older version of the suite (results format 1")


def test_resume_refuses_a_different_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, cache = write_config(tmp_path, TINY), str(tmp_path / "c")
    assert cli(capsys, "run", str(config), "--out", str(tmp_path / "r"), "--cache-dir", cache)[0] == 0
    (run,) = (tmp_path / "r").iterdir()
    other = write_config(tmp_path, TINY | {"training": {"epochs": 2, "batch_size": 8, "patience": 1}})
    code, _, err = cli(capsys, "run", str(other), "--resume", str(run), "--cache-dir", cache)
    assert_one_line_error(code, err, "holds trials of a different config (training.epochs: 1 there, 2 now)")
    assert len((run / "trials.jsonl").read_text().splitlines()) == 1  # nothing mixed in


PROFILE_CASES = {
    "zero budget": (["--params", "0"], "budget '0' must be a positive whole number"),
    "negative budget": (["--macs", "-1"], "budget '-1' must be a positive whole number"),
    "empty model list": (["--models", "", "--params", "1k"], "no model selected"),
    "only commas": (["--models", ",,", "--params", "1k"], "no model selected"),
}


@pytest.mark.parametrize("case", list(PROFILE_CASES))
def test_profile_bad_input(capsys: pytest.CaptureFixture[str], case: str) -> None:
    argv, message = PROFILE_CASES[case]
    code, out, err = cli(capsys, "profile", *argv)
    assert_one_line_error(code, err, message)
    assert out == ""


def test_report_and_compare_read_an_older_results_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = older_run(tmp_path / "old")
    csv_only = build_run(tmp_path / "older", name="tiny", models=["mlp"], seeds=[0], measure=False)
    (csv_only / "trials.jsonl").unlink()
    (csv_only / "manifest.json").unlink()
    table = pd.read_csv(csv_only / "results.csv")
    table.drop(columns=["trial_id", "latency_ms", "peak_mem_train_mb"]).to_csv(csv_only / "results.csv", index=False)
    new = build_run(tmp_path / "new", name="tiny", models=["mlp"], seeds=[0], measure=False)
    code, _, err = cli(capsys, "report", str(old), str(csv_only), "--out", str(tmp_path / "report"), "--format", "md")
    assert code == 0 and "Traceback" not in err, err
    assert "no trials.jsonl; read results.csv" in (tmp_path / "report" / "README.md").read_text()
    for base in (old, csv_only):
        code, _, err = cli(capsys, "compare", str(base), str(new))
        assert code in (0, 1) and "Traceback" not in err, err  # a judgement, not a crash


def test_report_reads_a_run_with_a_partial_last_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = build_run(tmp_path / "r", name="tiny", models=["mlp", "cnn1d"], seeds=[0], measure=False)
    with (run / "trials.jsonl").open("a") as log:
        log.write('{"trial_id": "x", "mod')
    code, _, err = cli(capsys, "report", str(run), "--out", str(tmp_path / "report"), "--format", "md")
    assert code == 0, err
    assert "line 3 of trials.jsonl is incomplete" in (tmp_path / "report" / "README.md").read_text()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["report", "{missing}", "--out", "{report}"], "not found"),
        (["report", "{file}", "--out", "{report}"], "is a file, not a results folder"),
        (["report", "{plain}", "--out", "{report}"], "holds no results"),
        (["report", "{run}", "--format", "pdf", "--out", "{report}"], "pdf"),
        (["compare", "{plain}", "{run}"], "holds no results"),
        (["compare", "{run}", "{missing}"], "does not exist"),
    ],
)
def test_report_and_compare_bad_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "plain").mkdir()
    run = build_run(tmp_path / "runs", name="tiny", models=["mlp"], seeds=[0], measure=False)
    paths = {"file": tmp_path / "a-file", "missing": tmp_path / "nope", "plain": tmp_path / "plain", "run": run}
    code, _, err = cli(capsys, *(arg.format(**paths, report=tmp_path / "report") for arg in argv))
    assert_one_line_error(code, err, message)


# --- audio -------------------------------------------------------------------------------------------------------------


def audio_config(tmp_path: Path, files: dict[str, dict], on_error: str = "raise") -> Path:
    """A manifest data set of 8 kHz mono noise plus ``files`` (name -> write_wav options), 2 classes."""
    root = tmp_path / "data" / "mine"
    rows = []
    for split, count in (("train", 6), ("validation", 2), ("test", 2)):
        for index in range(count):
            rows.append({"path": write_wav(root / f"{split}{index}.wav", 0.3, 8000, seed=index).name, "label": "ab"[index % 2]})
            rows[-1]["split"] = split
    for index, (name, options) in enumerate(files.items()):
        path = root / name
        if options.get("bytes") is not None:
            path.write_bytes(options["bytes"])
        else:
            write_wav(path, **options)
        rows.append({"path": name, "label": "ab"[index % 2], "split": "train"})
    pd.DataFrame(rows).to_csv(root / "all.csv", index=False)
    dataset = {"name": "manifest", "options": {"folder": str(root), "file": "all.csv", "sample_rate": 8000}}
    return write_config(
        tmp_path, TINY | {"dataset": dataset, "input": {"sample_rate": 8000, "clip_seconds": 0.5}, "on_error": on_error}
    )


def run_audio(tmp_path: Path, capsys: pytest.CaptureFixture[str], config: Path, out: str = "r") -> tuple[int, str, Path | None]:
    code, _, err = cli(capsys, "run", str(config), "--data-root", str(tmp_path / "data"), "--out", str(tmp_path / out),
                       "--cache-dir", str(tmp_path / "c"))  # fmt: skip
    runs = list((tmp_path / out).glob("tiny-*"))
    return code, err, runs[0] if runs else None


def test_stereo_44k_24_bit_and_float_wavs_are_read_and_resampled(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = {
        "stereo44k.wav": {"seconds": 0.4, "rate": 44100, "channels": 2},
        "pcm24.wav": {"seconds": 0.4, "rate": 8000, "subtype": "PCM_24"},
        "float.wav": {"seconds": 0.4, "rate": 16000, "subtype": "FLOAT"},
        "double.wav": {"seconds": 0.4, "rate": 8000, "subtype": "DOUBLE"},
    }
    code, err, run = run_audio(tmp_path, capsys, audio_config(tmp_path, files))
    assert code == 0 and run is not None, err
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["features"]["logmel"]["skipped"] == [] and manifest["dataset"]["examples"]["train"] == 10
    assert json.loads((run / "trials.jsonl").read_text())["status"] == "ok"


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("empty.wav", {"seconds": 0.0}, "empty.wav holds no samples"),
        ("text.wav", {"bytes": b"this is not audio\n"}, "cannot decode"),
    ],
)
def test_an_empty_or_non_audio_file_stops_the_run_naming_it_or_is_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, options: dict, message: str
) -> None:
    code, err, _ = run_audio(tmp_path, capsys, audio_config(tmp_path, {name: options}))
    assert_one_line_error(code, err, message)
    assert name in err
    code, err, run = run_audio(tmp_path, capsys, audio_config(tmp_path, {name: options}, on_error="skip"), out="skip")
    assert code == 0 and run is not None, err
    (skipped,) = json.loads((run / "manifest.json").read_text())["features"]["logmel"]["skipped"]
    assert skipped[0].endswith(name)


def test_a_non_audio_file_in_a_class_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = make_speech_commands(tmp_path / "data")  # holds yes/notes.txt, which is not a .wav: ignored
    settings = TINY | {"dataset": {"name": "speech_commands", "protocol": "35"}, "input": {"clip_seconds": 0.25}}
    config = write_config(tmp_path, settings)
    argv = ["run", str(config), "--data-root", str(tmp_path / "data"), "--cache-dir", str(tmp_path / "c")]
    code, _, err = cli(capsys, *argv, "--out", str(tmp_path / "ok"))
    assert code == 0, err
    (base / "yes" / "fake_nohash_0.wav").write_text("a text file named .wav\n")
    code, _, err = cli(capsys, *argv, "--out", str(tmp_path / "bad"))
    assert_one_line_error(code, err, "cannot decode")
    assert "fake_nohash_0.wav" in err
