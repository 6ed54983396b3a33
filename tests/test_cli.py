"""The CLI: each command end to end, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from suite.cli import main

REQUIRED_KEYS = {"model", "budget_kind", "budget", "width", "params", "macs", "model_bytes", "status", "uncounted_ops"}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exit_:  # argparse exits on usage errors
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_list_models(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list", "models")
    assert code == 0
    for name in ("mlp", "samplecnn", "randwire", "transformer"):
        assert name in out


def test_list_models_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list", "models", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert [row["model"] for row in rows][:3] == ["mlp", "cnn1d", "cnn2d"]
    # Variants are listed, each with the family it varies (they are not part of `all`).
    assert {row["model"]: row["variant_of"] for row in rows if row["variant_of"]} == {
        "cnn1d_causal": "cnn1d",
        "tcn_causal": "tcn",
        "crnn_causal": "crnn",
        "attention_causal": "attention",
        "transformer_causal": "transformer",
    }


def test_profile_json_records(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "profile", "--models", "gru,samplecnn", "--macs", "2M", "--format", "json")
    assert code == 0
    records = json.loads(out)
    assert [r["model"] for r in records] == ["gru", "samplecnn"]
    for record in records:
        assert record.keys() >= REQUIRED_KEYS
        assert record["budget_kind"] == "macs" and record["budget"] == 2_000_000
        assert record["flops"] == 2 * record["macs"]
        assert "multiply-accumulates" in record["mac_convention"]
    assert records[0]["status"] == "ok" and abs(records[0]["macs"] / 2e6 - 1) <= 0.05
    assert records[1]["status"] == "infeasible" and records[1]["reason"]


@pytest.mark.parametrize("fmt", ["table", "md", "csv"])
def test_profile_formats(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    code, out, _ = run(capsys, "profile", "--models", "cnn*", "--params", "25k", "--input", "fsdd", "--format", fmt)
    assert code == 0
    assert "cnn1d" in out and "cnn2d" in out
    if fmt == "csv":
        assert out.splitlines()[0].startswith("model,input,input_shape")
    else:
        assert "Convention: macs = multiply-accumulates" in out
    if fmt == "md":
        assert out.splitlines()[1].startswith("|--")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["profile", "--models", "lstn", "--params", "100k"], "unknown model 'lstn'; did you mean lstm"),
        (["profile", "--params", "12q"], "malformed budget '12q'"),
        (["profile", "--params", "-3"], "budget '-3' must be a positive whole number"),
        (["profile", "--params", "1k", "--macs", "2M"], "not allowed with argument --params"),
        (["profile"], "one of the arguments --params --macs is required"),
        (["profile", "--params", "1k", "--input", "nope"], "unknown input 'nope'"),
        (["profile", "--params", "1k", "--tolerance", "2"], "between 0 and 1"),
        (["list", "widgets"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_debug_shows_the_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--debug", "profile", "--models", "nope", "--params", "1k")
    assert code == 2 and "Traceback" in err


def test_console_entry_points() -> None:
    for command in (
        [sys.executable, "-m", "suite"],
        [sys.executable, "-c", "import sys; from suite.cli import main; sys.exit(main())"],
    ):
        done = subprocess.run([*command, "list", "models", "--format", "csv"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("model,input,summary,reference")
        bad = subprocess.run([*command, "profile", "--params", "zz"], capture_output=True, text=True, timeout=120)
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1


@pytest.mark.parametrize("command", ["list", "profile", "run", "report", "compare", "history"])
def test_every_command_prints_its_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    # argparse expands % in help texts: an unescaped one (the --fail-on default) made `--help` crash.
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0 and "usage:" in capsys.readouterr().out
