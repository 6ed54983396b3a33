"""suite.reference: the README's leaderboard says what the committed summaries say; the report and check commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from suite import numbers
from suite.cli import main
from suite.config import parse_config
from suite.cpu_isa import CAPS, cpu_capability, environment_for
from suite.environment import this_machine
from suite.errors import SuiteError
from suite.reference.leaderboard import BEGIN, END, RESULTS, boards_markdown, config_names, read_board, readme_block
from suite.reference.publish import write_reference
from suite.reference.reproduce import check
from suite.runner import run_config
from tests.esc10_fixture import make_esc10
from tests.helpers import TINY

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_leaderboard_agrees_with_the_committed_summaries() -> None:
    block = readme_block((ROOT / "README.md").read_text())
    assert block == boards_markdown(ROOT, Path()), "the README's leaderboard is stale: run `suite reference report`"
    names = config_names(ROOT)
    assert names == ["fsdd-25k", "fsdd-100k", "fsdd-speakers-100k", "esc10-100k"]
    for name in names:
        assert f"#### `{name}`" in block
        board = read_board(ROOT, name)
        if board is None:
            continue
        for _, row in board.ranked.iterrows():  # each committed mean and spread is in the README, as it reads
            shown = numbers.percent(row["accuracy_mean"], row["accuracy_std"])
            assert f"| `{row['model']}` | {shown} |" in block, (name, row["model"])


def _repository(tmp_path: Path) -> Path:
    """A repository with one tiny reference config, its run committed, and a README with the block."""
    settings = TINY | {"name": "tiny"}
    (tmp_path / "configs" / "reference").mkdir(parents=True)
    (tmp_path / "configs" / "reference" / "tiny.yaml").write_text(json.dumps(settings))
    (tmp_path / "README.md").write_text(f"# Project\n\n## Reference results\n\n{BEGIN}\nSTALE BOARD\n{END}\n\n## After\n")
    run_config(parse_config(settings), out=tmp_path / RESULTS / "tiny", cache_dir=tmp_path / "cache", progress=False)
    return tmp_path


def test_report_writes_each_report_the_index_and_the_readme_block(tmp_path: Path) -> None:
    root = _repository(tmp_path)
    written = write_reference(root)
    summary = pd.read_csv(root / "reports" / "reference" / "tiny" / "summary.csv")
    readme = (root / "README.md").read_text()
    assert written.reports == [root / "reports" / "reference" / "tiny"] and readme.endswith("## After\n")
    block = readme_block(readme)
    assert "STALE BOARD" not in block and "complete" in block and "[Full report](reports/reference/tiny/README.md)" in block
    # The machine's label names the kernels' instruction set (and is not followed by it again).
    assert f"- Measured on {this_machine('cpu')}; suite at" in block and f"{cpu_capability()})" in this_machine("cpu")
    for _, row in summary.iterrows():
        assert f"| `{row['model']}` | {numbers.percent(row['accuracy_mean'], row['accuracy_std'])} | 1 of 1 |" in block
    index = (root / "reports" / "reference" / "README.md").read_text()
    assert "[Full report](tiny/README.md)" in index  # links from the index's own folder
    (root / "README.md").write_text("# no block\n")
    with pytest.raises(SuiteError, match="no leaderboard block"):
        write_reference(root)


def test_check_reproduces_committed_trials_and_catches_a_changed_one(tmp_path: Path) -> None:
    root = _repository(tmp_path)
    found = check("tiny", trials=2, root=root, out=tmp_path / "check", cache_dir=tmp_path / "cache")
    assert [rerun.identical for rerun in found.reruns] == [True, True] and found.exit_code == 0
    assert {rerun.new["threads"] for rerun in found.reruns} == {rerun.committed["threads"] for rerun in found.reruns}
    assert "identical predictions" in found.reruns[0].line()
    # A committed prediction that this code does not reproduce (as if training had changed) fails the check.
    log = next((root / RESULTS / "tiny").glob("*/trials.jsonl"))
    records = [json.loads(line) for line in log.read_text().splitlines()]
    records[0]["test_predictions"][0] = (records[0]["test_predictions"][0] + 1) % 3
    log.write_text("".join(json.dumps(record) + "\n" for record in records))
    changed = check("tiny", trials=2, root=root, out=tmp_path / "again", cache_dir=tmp_path / "cache")
    assert [rerun.identical for rerun in changed.reruns] == [False, True] and changed.exit_code == 1
    assert "DIFFERENT predictions" in changed.reruns[0].line()


def test_check_re_runs_single_folds_of_a_cross_validation(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = {
        "name": "cv-tiny",
        "dataset": {"name": "esc10", "protocol": "cv", "options": {"sha256": make_esc10(data)}},
        "input": {"sample_rate": 8000, "clip_seconds": 0.25, "feature": "logmel", "n_mels": 16},
        "models": ["mlp"],
        "budgets": {"params": ["5k"]},
        "seeds": [0, 1],
        "training": {"epochs": 2, "batch_size": 4, "patience": 2},
    }
    options = {"data_root": data, "cache_dir": tmp_path / "cache"}
    run_config(parse_config(settings), out=tmp_path / RESULTS / "cv-tiny", progress=False, **options)
    found = check("cv-tiny", trials=2, root=tmp_path, out=tmp_path / "check", **options)
    assert [rerun.identical for rerun in found.reruns] == [True, True] and found.exit_code == 0
    for rerun in found.reruns:  # the fold's own trial, recorded as the cross-validation's
        assert (rerun.new["trial_id"], rerun.new["fold"], rerun.new["protocol"]) == (
            rerun.committed["trial_id"],
            rerun.committed["fold"],
            "cv",
        )
    base = next((tmp_path / "check" / "committed").glob("*/trials.jsonl")).read_text().splitlines()
    folds = {rerun.committed["fold"] for rerun in found.reruns}
    assert {json.loads(line)["fold"] for line in base} == folds and len(base) == 2 * len(folds)  # both seeds of each
    with pytest.raises(SuiteError, match="no trial of this config has the id nope"):
        run_config(parse_config(settings), out=tmp_path / "other", progress=False, only={"nope"}, **options)


def test_instruction_sets_a_machine_can_repeat() -> None:
    assert environment_for("AVX2", "AVX2") == {} and environment_for("AVX2", "AVX512") == CAPS["AVX2"]
    assert environment_for("AVX512", "AVX2") is None and environment_for("NEON", "AVX512") is None


def test_check_re_runs_a_trial_of_a_lower_instruction_set_with_the_libraries_capped(tmp_path: Path) -> None:
    here = cpu_capability()
    if environment_for("AVX2", here) is None:
        pytest.skip(f"this CPU's kernels are {here}: it cannot run AVX2 ones")
    root = tmp_path / "repo"
    (root / "configs" / "reference").mkdir(parents=True)
    config = root / "configs" / "reference" / "tiny.yaml"
    config.write_text(json.dumps(TINY | {"models": ["mlp"]}))
    # The committed run trains at AVX2, as on a machine without AVX-512, in a process of its own.
    command = [
        sys.executable,
        "-m",
        "suite",
        "run",
        str(config),
        "--out",
        str(root / RESULTS / "tiny"),
        "--cache-dir",
        str(tmp_path / "c"),
    ]
    subprocess.run(command, env=os.environ | CAPS["AVX2"], check=True, capture_output=True, cwd=ROOT)
    log = next((root / RESULTS / "tiny").glob("*/trials.jsonl"))
    assert json.loads(log.read_text())["cpu_capability"] == "AVX2"
    found = check("tiny", trials=1, root=root, out=tmp_path / "check", cache_dir=tmp_path / "c")
    (rerun,) = found.reruns
    assert (rerun.level, rerun.caps, rerun.new["cpu_capability"]) == ("AVX2", environment_for("AVX2", here), "AVX2")
    assert rerun.identical and found.exit_code == 0 and "AVX2 kernels" in rerun.line()
    # A record from before records kept the level: --cpu-capability names it.
    log.write_text(json.dumps({k: v for k, v in json.loads(log.read_text()).items() if k != "cpu_capability"}) + "\n")
    again = check("tiny", trials=1, root=root, out=tmp_path / "again", cache_dir=tmp_path / "c", level_of_unrecorded="AVX2")
    assert again.reruns[0].level == "AVX2" and again.reruns[0].identical and not again.reruns[0].searched
    # Without it the check looks for the level: this machine's first, then lower ones, until one repeats the trial.
    found = check("tiny", trials=1, root=root, out=tmp_path / "found", cache_dir=tmp_path / "c")
    (searched,) = found.reruns
    assert searched.searched and searched.identical and searched.level in (here, "AVX2") and found.exit_code == 0
    assert "a level the record does not name: the one that repeats it" in searched.line()
    assert len(list((tmp_path / "found" / "rerun").glob("*/trials.jsonl"))) == 1  # the repeating try alone is compared


def test_check_refuses_unknown_names_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reference", "check", "nothing", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("suite reference: error: no reference results named 'nothing'") and "\n" not in err
