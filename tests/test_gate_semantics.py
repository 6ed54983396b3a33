"""The CI gate fails on broken results: lost seeds and families, NaN accuracy, different data; and exit codes.

BASE and NEW are results folders written as `suite run` writes them (:mod:`tests.report_fixtures`),
without training; NEW is then damaged the way a broken change would damage it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

import suite.gate
from suite.cli import failed_summary, main
from suite.errors import SuiteError
from suite.formatting import markdown_text, render
from suite.gate.compare import compare_paths
from suite.gate.history import build_history
from suite.gate.history_output import render_history
from suite.gate.thresholds import DEFAULT_FAIL_ON, parse_fail_on
from suite.results.load import load_results
from tests.compare_fixtures import edit_trials, set_field
from tests.faulty_models import faulty_models
from tests.helpers import TINY
from tests.report_fixtures import build_run

MODELS = ("mlp", "cnn1d", "crnn")
SEEDS = [0, 1, 2, 3, 4]


def side(tmp_path: Path, name: str, **options: Any) -> Path:
    """A results folder of MODELS x SEEDS at 100k parameters (no timings: accuracy and counts are what is judged)."""
    return build_run(tmp_path / name, models=options.pop("models", MODELS), seeds=options.pop("seeds", SEEDS),
                     measure=False, **options)  # fmt: skip


def edit_manifest(run: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    path = run / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))
    return run


def compare(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["compare", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def rows(comparison: Any, metric: str) -> dict[str, tuple[str, str]]:
    return {r["model"]: (r["verdict"], r["detail"]) for r in comparison.rows if r["metric"] == metric}


# --- lost results are regressions -------------------------------------------------------------------------------


def test_a_family_whose_every_trial_failed_in_new_is_a_regression(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = side(tmp_path, "base")
    new = side(tmp_path, "new", failed=[("crnn", seed) for seed in SEEDS])
    code, out, _ = compare(capsys, str(base), str(new))
    assert code == 1, out
    assert out.startswith("REGRESSION: 1 regressed")
    line = next(line for line in out.splitlines() if line.startswith("crnn") and " seeds " in line)
    assert "all 5 trials failed in NEW (seeds 0,1,2,3,4): RuntimeError: CUDA out of memory | tried to allocate 2.00 GiB" in line
    assert set(rows(compare_paths(base, new, DEFAULT_FAIL_ON), "seeds")) == {"crnn"}  # the others lost nothing


def test_four_of_five_failed_seeds_are_a_regression_not_unchanged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = side(tmp_path, "base")
    new = side(tmp_path, "new", failed=[("crnn", seed) for seed in (1, 2, 3, 4)])
    comparison = compare_paths(base, new, DEFAULT_FAIL_ON)
    verdict, detail = rows(comparison, "seeds")["crnn"]
    assert verdict == "regressed" and detail.startswith("4 of 5 seeds failed in NEW (seeds 1,2,3,4): RuntimeError")
    assert rows(comparison, "accuracy")["crnn"][1].split(";")[0].endswith("5 vs 1 seeds")  # the seed left is still judged
    code, out, _ = compare(capsys, str(base), str(new))
    assert code == 1 and "4 of 5 seeds failed in NEW" in out


def test_nan_accuracy_in_new_is_a_regression_not_a_vanished_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = side(tmp_path, "base")
    new = set_field(side(tmp_path, "new"), "crnn", "accuracy", lambda _: math.nan)  # written as NaN, read back as nan
    code, out, _ = compare(capsys, str(base), str(new))
    assert code == 1, out
    assert "accuracy is NaN in NEW (seeds 0,1,2,3,4)" in next(line for line in out.splitlines() if line.startswith("crnn"))
    some = set_field(side(tmp_path, "some"), "mlp", "accuracy", lambda a: math.nan if a < 0.959 else a)
    lost = [r for r in load_results([some]).trials.itertuples() if r.model == "mlp" and math.isnan(r.accuracy)]
    verdict, detail = rows(compare_paths(base, some, DEFAULT_FAIL_ON), "seeds")["mlp"]
    assert 0 < len(lost) < 5 and verdict == "regressed" and f"accuracy is NaN in NEW for {len(lost)} of 5 seeds" in detail


def test_nan_macro_f1_counts_only_where_base_has_one(tmp_path: Path) -> None:
    base = side(tmp_path, "base")
    new = set_field(side(tmp_path, "new"), "mlp", "macro_f1", lambda _: math.nan)
    seeds = rows(compare_paths(base, new, DEFAULT_FAIL_ON), "seeds")
    assert seeds["mlp"] == ("regressed", "macro-F1 is NaN in NEW (seeds 0,1,2,3,4)")
    older = set_field(side(tmp_path, "older"), "mlp", "macro_f1", lambda _: math.nan)  # results without macro-F1 at all
    assert "mlp" not in rows(compare_paths(older, new, DEFAULT_FAIL_ON), "seeds")


def test_missing_ignore_reports_lost_results_without_failing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = side(tmp_path, "base")
    all_failed = side(tmp_path, "a", failed=[("crnn", seed) for seed in SEEDS])
    four_failed = side(tmp_path, "b", failed=[("crnn", seed) for seed in (1, 2, 3, 4)])
    for new, reason in ((all_failed, "all 5 trials failed in NEW"), (four_failed, "4 of 5 seeds failed in NEW")):
        code, out, _ = compare(capsys, str(base), str(new), "--fail-on", "missing=ignore")
        assert code == 0, out
        assert out.startswith("no regression") and reason in out and "missing=ignore" in out
    assert parse_fail_on("missing=off") == parse_fail_on("missing=ignore")
    assert parse_fail_on(parse_fail_on("missing=ignore").describe()).missing == "ignore"


def test_a_family_only_in_base_is_lost_and_one_only_in_new_is_informational(tmp_path: Path) -> None:
    base = side(tmp_path, "base")
    fewer = side(tmp_path, "fewer", models=("mlp", "cnn1d"))
    comparison = compare_paths(base, fewer, DEFAULT_FAIL_ON)
    assert rows(comparison, "model") == {"crnn": ("regressed", "not in NEW (BASE has 5 ok seed(s))")}
    assert rows(compare_paths(base, fewer, parse_fail_on("missing=ignore")), "model") == {"crnn": ("missing", "only in BASE")}
    more = compare_paths(fewer, base, DEFAULT_FAIL_ON)
    assert rows(more, "model") == {"crnn": ("missing", "only in NEW")} and more.exit_code == 0


def test_seeds_planned_but_never_run_are_lost_and_other_seed_numbers_are_not(tmp_path: Path) -> None:
    base = side(tmp_path, "base")
    # Trials are written budget, model, seed: 12 of 15 leaves crnn with seeds 0 and 1.
    unfinished = side(tmp_path, "unfinished", status="interrupted", n_done=12)
    verdict, detail = rows(compare_paths(base, unfinished, DEFAULT_FAIL_ON), "seeds")["crnn"]
    assert verdict == "regressed" and detail == "3 of 5 planned seeds never ran in NEW (seeds 2,3,4) (an unfinished run)"
    other_seeds = side(tmp_path, "other", seeds=[10, 11, 12])  # a CI job's seeds need not be the baseline's
    assert rows(compare_paths(base, other_seeds, DEFAULT_FAIL_ON), "seeds") == {}


def test_a_seed_that_failed_in_base_too_is_no_new_loss(tmp_path: Path) -> None:
    base = side(tmp_path, "base", failed=[("crnn", 3)])
    same = side(tmp_path, "same", failed=[("crnn", 3)])
    assert rows(compare_paths(base, same, DEFAULT_FAIL_ON), "seeds")["crnn"][0] == "unchanged"
    worse = side(tmp_path, "worse", failed=[("crnn", 3), ("crnn", 4)])
    verdict, detail = rows(compare_paths(base, worse, DEFAULT_FAIL_ON), "seeds")["crnn"]
    assert verdict == "regressed" and detail.startswith("1 of 5 seeds failed in NEW (seed 4)") and "lost in BASE too" in detail
    broken_base = side(tmp_path, "broken", failed=[("crnn", seed) for seed in SEEDS])
    assert rows(compare_paths(broken_base, side(tmp_path, "fixed"), DEFAULT_FAIL_ON), "seeds")["crnn"][0] == "improved"


def test_a_summary_csv_with_failed_and_nan_seeds_is_judged_by_counts(tmp_path: Path) -> None:
    from suite.reporting.summary import summarise

    base = side(tmp_path, "base")
    new = set_field(side(tmp_path, "new", failed=[("crnn", 1), ("crnn", 2)]), "mlp", "accuracy", lambda _: math.nan)
    summary = tmp_path / "summary.csv"
    summarise(load_results([new])).to_csv(summary, index=False)
    comparison = compare_paths(base, summary, DEFAULT_FAIL_ON)
    seeds = rows(comparison, "seeds")
    assert seeds["crnn"] == ("regressed", "2 of 5 seeds failed in NEW")  # a summary names no seeds or reasons
    assert seeds["mlp"] == ("regressed", "accuracy is NaN in NEW")
    assert comparison.exit_code == 1


# --- data identity ----------------------------------------------------------------------------------------------


def test_a_different_data_digest_is_refused_in_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = side(tmp_path, "base")
    new = edit_manifest(side(tmp_path, "new"), lambda m: m["dataset"].update(digest="def456" + "0" * 58))
    code, out, err = compare(capsys, str(base), str(new))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    digest = json.loads((base / "manifest.json").read_text())["dataset"]["digest"]
    assert f"BASE and NEW used different data for fsdd/official: digest {digest[:12]}… vs def456000000… (--allow" in err
    code, out, _ = compare(capsys, str(base), str(new), "--allow-different-data")
    assert code in (0, 1) and "[different data]" in out and "judged anyway (--allow-different-data)" in out


def test_a_different_class_list_is_refused_naming_both_lists(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = side(tmp_path, "base")
    new = edit_manifest(side(tmp_path, "new"), lambda m: m["class_names"].append("10"))
    code, _, err = compare(capsys, str(base), str(new))
    classes = [str(i) for i in range(10)]
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"different data for fsdd/official: classes {classes} vs {[*classes, '10']}" in err


def test_results_without_a_data_identity_are_compared_and_the_notes_say_so(tmp_path: Path) -> None:
    def older(manifest: dict[str, Any]) -> None:
        del manifest["class_names"], manifest["dataset"]["digest"]

    base = side(tmp_path, "base")
    new = edit_manifest(side(tmp_path, "new"), older)
    comparison = compare_paths(base, new, DEFAULT_FAIL_ON)
    assert any(note.startswith("NEW: ") and "no data identity recorded" in note for note in comparison.notes)


def test_a_baseline_pooling_runs_of_different_data_is_refused(tmp_path: Path) -> None:
    baselines = tmp_path / "baselines"
    build_run(baselines, models=MODELS, seeds=[0], measure=False, stamp="20261120-020000")
    other = build_run(baselines, models=MODELS, seeds=[0], measure=False, stamp="20261121-020000")
    edit_manifest(other, lambda m: m["dataset"].update(digest="f" * 64))
    with pytest.raises(SuiteError, match=r"runs default-20261120-020000 and default-20261121-020000 used different data"):
        compare_paths(baselines, side(tmp_path, "new"), DEFAULT_FAIL_ON)


def test_history_and_report_refuse_runs_of_different_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "results"
    first = build_run(root, models=("mlp",), seeds=[0], measure=False, stamp="20261120-020000")
    second = build_run(root, models=("mlp",), seeds=[0], measure=False, stamp="20261121-020000")
    edit_manifest(second, lambda m: m["class_names"].reverse())
    assert main(["history", str(root), "--metric", "accuracy"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and f"under {root}: runs {first.name} and {second.name} used different data" in err
    assert "the same 10 classes in another order" not in err  # a short list is shown as it is
    assert main(["report", str(first), str(second), "--out", str(tmp_path / "report")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "used different data for fsdd/official: classes" in err
    assert not (tmp_path / "report").exists()


# --- exit codes -------------------------------------------------------------------------------------------------


def test_an_internal_error_is_one_line_and_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom\non purpose")

    monkeypatch.setattr(suite.gate, "compare_paths", boom)
    code, out, err = compare(capsys, str(tmp_path), str(tmp_path))
    assert code == 3 and out == ""
    assert err == "suite compare: internal error: RuntimeError: boom on purpose (this is a bug; --debug shows the traceback)\n"
    code, _, err = compare(capsys, "--debug", str(tmp_path), str(tmp_path))
    assert code == 3 and "Traceback" in err and err.strip().splitlines()[-1].startswith("suite compare: internal error")
    monkeypatch.setattr("suite.formatting.render", boom)  # every command, not only compare
    assert main(["list", "models"]) == 3
    assert capsys.readouterr().err.startswith("suite list: internal error: RuntimeError")


def test_run_exits_1_when_every_trial_failed_and_names_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "failing.yaml"
    config.write_text(json.dumps(TINY | {"name": "failing", "models": ["raises", "nan_loss"]}))
    with faulty_models():
        code = main(["run", str(config), "--out", str(tmp_path / "r"), "--cache-dir", str(tmp_path / "c")])
    out = capsys.readouterr().out
    assert code == 1, out
    summary = next(line for line in out.splitlines() if "trials failed" in line)
    assert summary.startswith("2 of 2 trials failed: raises params=20k seed 0 (RuntimeError: boom on purpose), nan_loss")
    assert out.rstrip().splitlines()[-1].startswith("results: ")


def test_the_failed_trials_summary_is_one_capped_line() -> None:
    failed = [{"model": f"m{i}", "budget_kind": "params", "budget": 20_000, "seed": i, "status": "failed",
               "error": "ValueError: bad\nthing " + "x" * 200} for i in range(40)]  # fmt: skip
    line = failed_summary(failed, 50)
    assert "\n" not in line and len(line) <= 320
    assert line.startswith("40 of 50 trials failed: m0 params=20k seed 0 (ValueError: bad thing xxx") and line.endswith(" more")


# --- Markdown escaping ------------------------------------------------------------------------------------------

HOSTILE = "evil|model\n<img src=x> & `tick`"


def markdown_cells(markdown: str) -> tuple[list[list[str]], list[Any]]:
    """Every table row's cells as rendered text, and every raw-HTML token (there should be none outside <details>)."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    table_rows: list[list[str]] = []
    cells: list[str] | None = None
    html = []
    for token in tokens:
        if token.type == "tr_open":
            cells = []
        elif token.type == "tr_close" and cells is not None:
            table_rows.append(cells)
            cells = None
        elif token.type == "inline" and cells is not None:
            kinds = ("text", "text_special", "code_inline")
            cells.append("".join(child.content for child in token.children or [] if child.type in kinds))
        html += [t for t in (token, *(token.children or [])) if t.type in ("html_block", "html_inline")]
    return table_rows, html


def test_compare_markdown_escapes_names_and_reasons(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def hostile(record: dict[str, Any]) -> None:
        if record["model"] == "crnn":
            record["model"] = HOSTILE

    base = edit_trials(side(tmp_path, "base"), hostile)
    new = edit_trials(side(tmp_path, "new", failed=[("crnn", 1)]), hostile)  # its reason holds a | and a newline
    code, out, _ = compare(capsys, str(base), str(new), "--format", "md")
    assert code == 1
    table_rows, html = markdown_cells(out)
    assert all(len(cells) == 9 for cells in table_rows), table_rows  # no | or newline broke a row
    assert all("<img" not in token.content for token in html), html  # only the <details> wrapper is HTML
    hostile_rows = [cells for cells in table_rows if cells[0] == " ".join(HOSTILE.split())]
    assert hostile_rows and any("out of memory | tried to allocate 2.00 GiB" in cells[8] for cells in hostile_rows)


def test_list_and_history_markdown_escape_their_cells(tmp_path: Path) -> None:
    text = render([{"model": HOSTILE, "summary": "a|b"}], "md", ["model", "summary"])
    table_rows, html = markdown_cells(text)
    assert table_rows == [["model", "summary"], [" ".join(HOSTILE.split()), "a|b"]] and not html
    assert markdown_text("latency_rel and _x_") == "latency_rel and \\_x\\_"  # an intraword _ is no emphasis
    assert markdown_text("$x$ & y") == "\\$x\\$ \\& y"  # no math, no entity
    root = tmp_path / "results"
    for night in range(3):
        run = build_run(root, models=("mlp", "cnn1d"), seeds=[0], measure=False, stamp=f"2026112{night}-020000")
        edit_trials(run, lambda r: r.update(model=HOSTILE) if r["model"] == "cnn1d" else None)
    table_rows, html = markdown_cells(render_history(build_history(root, "accuracy")))
    assert not html and len({len(cells) for cells in table_rows}) == 1
    assert f"{' '.join(HOSTILE.split())} params=100000" in table_rows[0]
