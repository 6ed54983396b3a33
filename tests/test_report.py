"""`suite report` on results folders the tests build: failed trials, a run in progress, runs merged.

No training here: :mod:`tests.report_fixtures` writes the folders as `suite run` does.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from markdown_it import MarkdownIt

from suite import numbers
from suite.cli import main
from suite.metrics import budget_text
from suite.reporting import ReportFiles, write_report
from tests.report_fixtures import FAMILIES, build_run

PLOTS = ("accuracy-vs-params", "accuracy-vs-macs", "accuracy-vs-latency", "latency-by-batch", "learning-curves",
         "confusion-best", "budget-match")  # fmt: skip
ORDER = ("What was run", "Leaderboard", "Accuracy vs parameters", "Failed, infeasible and missing trials", "Methodology")


@pytest.fixture(scope="module")
def failed(tmp_path_factory: pytest.TempPathFactory) -> ReportFiles:
    """Every family at 100k params and 2M MACs, 2 seeds; one trial raised, one target infeasible."""
    root = tmp_path_factory.mktemp("failed")
    run = build_run(root / "results", models=list(FAMILIES), budgets=[("params", 100_000), ("macs", 2_000_000)],
                    seeds=[0, 1], failed=[("crnn", 1)], infeasible=[("samplecnn", 2_000_000)])  # fmt: skip
    return write_report([run], out=root / "report")


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> ReportFiles:
    """A run still going (5 of 8 trials), with no latency or memory measured."""
    root = tmp_path_factory.mktemp("running")
    run = build_run(root / "results", models=["mlp", "cnn1d", "gru", "crnn"], seeds=[0, 1], status="running", n_done=5,
                    measure=False)  # fmt: skip
    return write_report([run], out=root / "report")


@pytest.fixture(scope="module")
def merged(tmp_path_factory: pytest.TempPathFactory) -> ReportFiles:
    """The same config on two machines, and a run on another data set."""
    results = tmp_path_factory.mktemp("merged") / "results"
    models = ["mlp", "cnn2d", "crnn", "attention"]
    runs = [
        build_run(results, models=models, seeds=[0, 1], stamp="20261129-003032"),
        build_run(results, models=models, seeds=[0, 1], cpu="Intel Xeon", cpu_count=8, speed=0.5, stamp="20261130-003032"),
        build_run(results, name="esc50", dataset="esc50", models=models[:3], seeds=[0], stamp="20261201-003032"),
    ]
    return write_report(runs, out=results.parent / "report")


def markdown_tokens(report: ReportFiles) -> list:
    return MarkdownIt("commonmark").enable("table").parse((report.folder / "README.md").read_text())


def _cells(tokens: list, row: int) -> int:
    """The number of cells in the table row opening at ``tokens[row]``."""
    end = next(j for j in range(row, len(tokens)) if tokens[j].type == "tr_close")
    return sum(t.type in ("th_open", "td_open") for t in tokens[row:end])


def html(report: ReportFiles) -> str:
    return (report.folder / "index.html").read_text()


def test_numbers_for_people() -> None:
    assert numbers.percent(0.984, 0.003) == "98.4 ± 0.3 %"
    assert numbers.percent(0.984, float("nan")) == "98.4 %"
    assert numbers.count(101_200) == "101.2 k" and numbers.count(3_400_000) == "3.4 M" and numbers.count(840) == "840"
    assert numbers.milliseconds(0.82) == "0.82 ms" and numbers.milliseconds(1234.5) == "1,234 ms"
    assert numbers.seconds(138) == "2 min 18 s" and numbers.mebibytes(3.14159) == "3.14 MiB"
    assert numbers.count(None) == numbers.percent(float("nan")) == "—"
    assert budget_text("macs", 2_000_000) == "2 M MACs" and budget_text("params", 25_000) == "25 k params"


def test_all_outputs_written(failed: ReportFiles) -> None:
    folder = failed.folder
    assert {p.name for p in folder.iterdir()} == {"index.html", "README.md", "summary.csv", "plots"}
    for key in PLOTS:
        for suffix in (".png", ".svg"):
            path = folder / "plots" / f"fsdd-official-{key}{suffix}"
            assert path.is_file() and path.stat().st_size > 5000, path
    assert "Omitted" not in html(failed)


def test_markdown_tables_render_and_images_exist(failed: ReportFiles) -> None:
    tokens = markdown_tokens(failed)
    tables = [i for i, t in enumerate(tokens) if t.type == "table_open"]
    assert len(tables) >= 4  # what was run, two leaderboards, the problems
    for start in tables:
        end = next(i for i in range(start, len(tokens)) if tokens[i].type == "table_close")
        header = sum(t.type == "th_open" for t in tokens[start:end])
        rows = [i for i in range(start, end) if tokens[i].type == "tr_open"]
        cells = [_cells(tokens, r) for r in rows]
        assert header >= 2 and all(c == header for c in cells), (header, cells)
    images = [c.attrs["src"] for t in tokens if t.type == "inline" for c in t.children or [] if c.type == "image"]
    links = [c.attrs["href"] for t in tokens if t.type == "inline" for c in t.children or [] if c.type == "link_open"]
    assert len(images) == len(PLOTS)
    for target in images + links:
        assert (failed.folder / str(target)).is_file(), target


def test_leaderboard_content(failed: ReportFiles) -> None:
    text = (failed.folder / "README.md").read_text()
    assert "### Leaderboard: 100 k params" in text and "### Leaderboard: 2 M MACs" in text
    board = text.split("### Leaderboard: 100 k params")[1].split("###")[0]
    head = board.strip().splitlines()[0]
    for column in ("rank", "model", "accuracy", "macro-F1", "seeds", "width", "params", "MACs", "latency CPU b1",
                   "latency CPU b32", "latency e2e CPU b1", "peak memory, inference", "peak memory, training step"):  # fmt: skip
        assert f"| {column} |" in head, column
    assert re.search(r"\| 1 \| \w+ \| (\*\*)?\d+\.\d ± \d\.\d %(\*\*)? \| .* \| 2 \| \d+ \| [\d.]+ k \| [\d.]+ [kM] \|", board)
    assert re.search(r"\*\*\d+\.\d ± \d\.\d %\*\*", board)  # the best accuracy, in bold
    assert re.search(r"\| \d+\.\d+ ms \|", board)
    assert "| 1 (1 failed) |" in board  # crnn: one seed of two
    assert "<strong>" in html(failed) and 'class="num best"' in html(failed)


def test_failed_and_infeasible_trials_are_listed_with_reasons(failed: ReportFiles) -> None:
    text = (failed.folder / "README.md").read_text()
    problems = text.split("## Failed, infeasible and missing trials")[1].split("## Methodology")[0]
    rows = [line for line in problems.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == 4  # crnn seed 1 at both budgets; samplecnn at 2M MACs, both seeds
    assert sum("crnn" in r and "failed" in r and r"CUDA out of memory \| tried to allocate 2.00 GiB" in r for r in rows) == 2
    assert sum("samplecnn" in r and "infeasible" in r and "outside the 5% tolerance" in r for r in rows) == 2
    assert "outside the 5% tolerance" in html(failed)


def test_summary_csv_keeps_full_precision(failed: ReportFiles) -> None:
    summary = pd.read_csv(failed.folder / "summary.csv")
    trials = failed.results.trials
    mlp = trials[(trials["model"] == "mlp") & (trials["budget_kind"] == "params")]["accuracy"]
    row = summary[(summary["model"] == "mlp") & (summary["budget_kind"] == "params")].iloc[0]
    assert row["accuracy_mean"] == pytest.approx(mlp.mean(), rel=1e-12) and row["accuracy_std"] == pytest.approx(
        mlp.std(), rel=1e-12
    )
    assert row["params"] == 99_718 and row["n_ok"] == 2 and row["rank"] >= 1
    assert len(summary) == 2 * len(FAMILIES)


def test_content_in_order_and_self_contained(failed: ReportFiles) -> None:
    page, text = html(failed), (failed.folder / "README.md").read_text()
    for document in (page.split("</nav>")[1], text):  # after the table of contents
        positions = [document.index(heading) for heading in ORDER]
        assert positions == sorted(positions)
    assert "<script" not in page and not re.search(r"(src|href)=\"(https?:)?//", page)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert len(sources) == len(PLOTS) and all(s.startswith("data:image/svg+xml;base64,") for s in sources)


def test_methodology_states_the_method(failed: ReportFiles) -> None:
    page = html(failed)
    for fact in ("multiply-accumulates of matrix products and convolutions", "blocked_autorange", "3 warm-up calls",
                 "profile_memory=True", "sample standard deviation", "CC BY-SA 4.0", "Jakobovski", "AdamW (lr 0.003",
                 "Hello Edge"):  # fmt: skip
        assert fact in page, fact


def test_run_in_progress(running: ReportFiles) -> None:
    page, text = html(running), (running.folder / "README.md").read_text()
    for document in (page, text):
        assert "still in progress: 5 of 8 trials" in document
        assert document.count("run still in progress") == 3  # the three trials not run yet, listed
        assert "Omitted: no latency was measured" in document
    assert "latency CPU b1" not in text and "peak memory" not in text.split("## Methodology")[0]
    assert not (running.folder / "plots" / "fsdd-official-accuracy-vs-latency.png").exists()
    assert (running.folder / "plots" / "fsdd-official-accuracy-vs-params.png").is_file()


def test_reports_are_reproducible(running: ReportFiles, tmp_path: Path) -> None:
    again = write_report([running.results.runs[0].path], out=tmp_path / "again")
    for path in sorted(running.folder.rglob("*.*")):
        twin = tmp_path / "again" / path.relative_to(running.folder)
        assert path.read_bytes() == twin.read_bytes(), path.name
    assert len(again.files) == len(running.files)


def test_merged_runs(merged: ReportFiles) -> None:
    page, text = html(merged), (merged.folder / "README.md").read_text()
    assert page.count('<section id="fsdd-official" class="dataset">') == 1
    assert page.count('<section id="esc50-fold1" class="dataset">') == 1
    fsdd, esc = text.split("## esc50")
    assert "machine A (AMD EPYC, 2 CPUs (family 25 model 17, AVX2))" in fsdd
    assert "machine B (Intel Xeon, 8 CPUs (family 25 model 17, AVX2))" in fsdd  # the fixture gives both one CPU id
    assert fsdd.count("### Machines side by side: 100 k params") == 1 and "Machines side by side" not in esc
    side = fsdd.split("### Machines side by side: 100 k params")[1].split("###")[0]
    assert "| model | accuracy (A) | accuracy (B) | latency CPU b1 (A) | latency CPU b1 (B) |" in side
    assert (merged.folder / "plots" / "esc50-fold1-confusion-best.png").is_file()
    assert "2,400 train" in page and "5,000 train" not in page  # each run's own split sizes
    summary = pd.read_csv(merged.folder / "summary.csv")
    assert set(summary["dataset"]) == {"fsdd", "esc50"} and summary["machine"].nunique() == 2


def test_cli_writes_a_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = build_run(tmp_path / "results", models=["mlp", "cnn1d"], seeds=[0], measure=False)
    code = main(["report", str(run), "--out", str(tmp_path / "r"), "--format", "md"])
    out = capsys.readouterr().out
    assert code == 0 and out.startswith(f"report: {tmp_path / 'r'}")
    assert (tmp_path / "r" / "README.md").is_file() and not (tmp_path / "r" / "index.html").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["report", "/nonexistent/run"], "results folder /nonexistent/run not found"),
        (["report", "{empty}"], "holds no results"),
        (["report", "{run}", "--format", "pdf"], "unknown report format pdf"),
        (["report", "{started}"], "no trials recorded yet"),
    ],
)
def test_cli_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    (tmp_path / "empty").mkdir()
    run = build_run(tmp_path / "results", models=["mlp"], seeds=[0], measure=False)
    started = build_run(tmp_path / "results", models=["mlp"], seeds=[0], status="running", n_done=0, stamp="20261129-010000")
    paths = {"empty": tmp_path / "empty", "run": run, "started": started}
    code = main([arg.format(**paths) for arg in argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not Path("reports", "pdf").exists()


def test_manifest_of_a_started_run_is_what_suite_run_writes(tmp_path: Path) -> None:
    started = build_run(tmp_path, models=["mlp"], seeds=[0], status="running", n_done=0)
    assert json.loads((started / "manifest.json").read_text())["status"] == "running"
    assert not (started / "trials.jsonl").exists()
