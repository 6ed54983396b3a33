"""`suite report` with hostile labels and model names, and a report that fails half way (issue 12, item 4).

Labels and model names come from users: ``$\\foo{$`` used to kill the report in
matplotlib's mathtext parser (leaving an empty report folder) and ``$\\alpha$`` was drawn
as α. Every output must show them as written: plots (mathtext off), HTML (escaped),
Markdown (escaped, one line, and no ``$`` math on GitHub).
"""

from __future__ import annotations

import contextlib
import errno
import io
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from matplotlib.figure import Figure
from matplotlib.text import Text

import suite.reporting.build as build
from suite.cli import main
from suite.reporting import write_report
from suite.reporting.style import SavedPlot
from tests.report_fixtures import build_run

HOSTILE = ["$\\foo{$", "$\\alpha$", "a|b", "<img src=x>", "new\nline"]


@dataclass
class Outcome:
    """What `suite report` printed and wrote, and every figure it saved (drawn, so tick labels exist)."""

    code: int
    out: str
    err: str
    folder: Path
    figures: dict[str, Figure] = field(default_factory=dict)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    """A report of a run whose model names and class labels are all hostile; one trial failed."""
    root = tmp_path_factory.mktemp("hostile")
    run = build_run(root / "results", models=HOSTILE, seeds=[0, 1], class_names=HOSTILE, failed=[("a|b", 1)])
    outcome = Outcome(0, "", "", root / "report")
    real = build.save_figure

    def keep(figure: Figure, stem: Path) -> SavedPlot:
        saved = real(figure, stem)
        outcome.figures[stem.name.split("-", 2)[-1]] = figure
        return saved

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        patch.setattr(build, "save_figure", keep)
        outcome.code = main(["report", str(run), "--out", str(outcome.folder)])
    outcome.out, outcome.err = out.getvalue(), err.getvalue()
    return outcome


def texts(figure: Figure) -> list[Text]:
    return [t for t in figure.findobj(match=Text) if t.get_text()]


def test_the_report_is_written(hostile: Outcome) -> None:
    assert hostile.code == 0 and "Traceback" not in hostile.err, hostile.err
    assert hostile.out.startswith(f"report: {hostile.folder}")
    assert {p.name for p in hostile.folder.iterdir()} == {"index.html", "README.md", "summary.csv", "plots"}
    assert {"confusion-best", "latency-by-batch", "accuracy-vs-params", "learning-curves"} <= set(hostile.figures)


def test_plot_text_is_drawn_literally(hostile: Outcome) -> None:
    for key, figure in hostile.figures.items():
        for text in texts(figure):
            assert not text.get_parse_math(), (key, text.get_text())
            assert "\\mathdefault" not in text.get_text(), (key, text.get_text())  # no formatter relies on mathtext
    confusion = {t.get_text() for t in texts(hostile.figures["confusion-best"])}
    assert set(HOSTILE) <= confusion  # class labels on both axes, as written
    for key in ("latency-by-batch", "accuracy-vs-params", "learning-curves", "budget-match"):
        shown = {t.get_text() for t in texts(hostile.figures[key])}
        assert "$\\alpha$" in shown and "<img src=x>" in shown, (key, shown)


def test_dollars_are_not_typeset(hostile: Outcome) -> None:
    """The drawn label is as wide as its eight characters, not as one α (which mathtext would draw)."""
    figure = hostile.figures["confusion-best"]
    label = next(t for t in texts(figure) if t.get_text() == "$\\alpha$" and t.get_visible())
    typeset = figure.text(0, 0, "$\\alpha$", fontproperties=label.get_fontproperties(), parse_math=True)
    assert label.get_window_extent().width > 3 * typeset.get_window_extent().width
    typeset.remove()


def test_html_escapes_names_and_labels(hostile: Outcome) -> None:
    page = (hostile.folder / "index.html").read_text()
    assert "<img src=x>" not in page and "&lt;img src=x&gt;" in page
    assert "$\\foo{$" in page and "a|b" in page


def test_markdown_escapes_names_and_labels(hostile: Outcome) -> None:
    text = (hostile.folder / "README.md").read_text()
    assert "a\\|b" in text and "\\<img src=x\\>" in text and "\\$\\\\foo{\\$" in text and "new line" in text
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    for start in (i for i, t in enumerate(tokens) if t.type == "table_open"):  # no name splits a table's row
        end = next(i for i in range(start, len(tokens)) if tokens[i].type == "table_close")
        header = sum(t.type == "th_open" for t in tokens[start:end])
        rows = [i for i in range(start, end) if tokens[i].type == "tr_open"]
        for row in rows:
            close = next(j for j in range(row, end) if tokens[j].type == "tr_close")
            assert sum(t.type in ("th_open", "td_open") for t in tokens[row:close]) == header
    rendered = MarkdownIt("commonmark").enable("table").render(text)
    assert "<img src=x>" not in rendered and "&lt;img src=x&gt;" in rendered
    assert "a|b" in rendered and "$\\foo{$" in rendered


def _raise_after(calls: int, error: BaseException, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the report's ``calls + 1``-th plot file fail with ``error``."""
    real, count = build.save_figure, [0]

    def failing(figure: Figure, stem: Path) -> object:
        count[0] += 1
        if count[0] > calls:
            raise error
        return real(figure, stem)

    monkeypatch.setattr(build, "save_figure", failing)


def test_a_failed_report_leaves_no_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = build_run(tmp_path / "results", models=["mlp", "gru"], seeds=[0], measure=False)
    _raise_after(2, OSError(errno.ENOSPC, "No space left on device"), monkeypatch)
    out = tmp_path / "reports" / "new"
    code = main(["report", str(run), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.strip() == f"suite report: error: cannot write the report to {out}: No space left on device", err
    assert not (tmp_path / "reports").exists()  # the folders it made are gone


def test_a_failed_report_keeps_the_earlier_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = build_run(tmp_path / "results", models=["mlp", "gru"], seeds=[0], measure=False)
    folder = tmp_path / "report"
    (folder / "plots").mkdir(parents=True)
    for name in ("index.html", "README.md", "summary.csv", "plots/fsdd-official-accuracy-vs-params.png"):
        (folder / name).write_text(f"the earlier report's {name}")
    before = {p: p.read_bytes() if p.is_file() else None for p in folder.rglob("*")}
    _raise_after(0, RuntimeError("a bug in a plot"), monkeypatch)
    with pytest.raises(RuntimeError, match="a bug in a plot"):
        write_report([run], out=folder)
    assert {p: p.read_bytes() if p.is_file() else None for p in folder.rglob("*")} == before  # no staging folder left


def test_a_new_report_replaces_the_old_one_and_keeps_other_files(tmp_path: Path) -> None:
    run = build_run(tmp_path / "results", models=["mlp", "gru"], seeds=[0], measure=False)
    folder = tmp_path / "report"
    (folder / "plots").mkdir(parents=True)
    (folder / "plots" / "gone-accuracy-vs-params.png").write_bytes(b"an older report's plot")
    (folder / "notes.txt").write_text("mine")
    report = write_report([run], out=folder, formats="md")
    assert not (folder / "plots" / "gone-accuracy-vs-params.png").exists() and (folder / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "notes.txt", "plots", "summary.csv"]
    assert all(p.is_file() and folder in p.parents for p in report.files)
    assert {p.name for p in (folder / "plots").iterdir()} == {p.name for p in report.files if p.parent.name == "plots"}
