"""The published leaderboard: one board per reference config, from its report's ``summary.csv``.

``suite reference report`` runs ``suite report`` on every folder of
``results/reference/`` (each the runs of one config of ``configs/reference/``), then
writes ``reports/reference/README.md`` with one leaderboard per config and puts the same
boards into the repository's README between :data:`BEGIN` and :data:`END`. A board is
built only from what is committed (the summary and the runs' manifests), so a test can
rebuild it and check that the README says what the summaries say.

Each board states its protocol, its seeds and what the spread is over, how complete the
runs are, and the software and machine behind every number, as papers-with-code and
HEAR's results pages do.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from suite import numbers
from suite.environment import cpu_generation
from suite.errors import SuiteError
from suite.metrics import ACCURACY, EPOCHS, INT8, LATENCY_MS, MACS, PARAMS, STREAM_FRAME_MS, STREAM_MODE
from suite.reporting.summary import is_pooled, pooled_machines, without_pooled
from suite.reporting.tables import machine_letters
from suite.results import read_manifest
from suite.results.load import machine_label, sittings

CONFIGS = Path("configs/reference")
RESULTS = Path("results/reference")
REPORTS = Path("reports/reference")
BEGIN = "<!-- reference leaderboard: begin (written by `suite reference report`; do not edit) -->"
END = "<!-- reference leaderboard: end -->"
#: Boards in reading order; a config not named here follows, by name.
ORDER = ("fsdd-25k", "fsdd-100k", "fsdd-speakers-100k", "esc10-100k")


@dataclass(frozen=True)
class Board:
    """One reference config's leaderboard.

    Attributes:
        name: The config's name (``fsdd-100k``).
        summary: Its report's ``summary.csv``, one row per model (rank order).
        manifests: The manifests of its run folders.
    """

    name: str
    summary: pd.DataFrame
    manifests: list[dict[str, Any]]

    @property
    def first(self) -> dict[str, Any]:
        """The first run's manifest: its config and data set are every run's (a resumed run refuses others)."""
        return self.manifests[0] if self.manifests else {}

    @property
    def ranked(self) -> pd.DataFrame:
        """Its models best first (rank, then name); models with no finished trial last."""
        # copy() first: the summary is built column by column, and adding one more to it warns (PerformanceWarning).
        frame = self.summary.copy().assign(_rank=self.summary["rank"].fillna(float("inf")))
        return frame.sort_values(["_rank", "model"], kind="stable").drop(columns="_rank").reset_index(drop=True)


def config_names(root: Path) -> list[str]:
    """The reference configs under ``root``, in :data:`ORDER`."""
    found = sorted(path.stem for path in (root / CONFIGS).glob("*.yaml"))
    return [name for name in ORDER if name in found] + [name for name in found if name not in ORDER]


def read_board(root: Path, name: str) -> Board | None:
    """The board of config ``name`` from its committed report and run folders; ``None`` before its first trial."""
    summary_path = root / REPORTS / name / "summary.csv"
    if not summary_path.is_file():
        return None
    runs = sorted(path.parent for path in (root / RESULTS / name).glob("*/manifest.json"))
    manifests = [dict(read_manifest(folder, notes=[])) for folder in runs]
    return Board(name, pd.read_csv(summary_path), manifests)


def _status(board: Board) -> str:
    planned = sum(int(m.get("trials_planned") or 0) for m in board.manifests)
    done = int(without_pooled(board.summary)["n_trials"].sum())  # a pooled row counts its machines' trials again
    complete = board.manifests and all(m.get("status") == "complete" for m in board.manifests) and done >= planned
    return "complete" if complete else f"**partial**: {done} of {planned} trials"


def _environments(board: Board) -> list[dict[str, Any]]:
    """The environment of every sitting of every run: the start's and each resumption's."""
    return [env for manifest in board.manifests for env in sittings(manifest)]


def _kernels(board: Board, machines: str) -> str:
    """`` (AuthenticAMD family 25 model 17 stepping 1; kernels AVX512)``: the CPUs and instruction sets the sittings
    recorded (:func:`suite.environment.cpu_id`, :mod:`suite.cpu_isa`) that the ``machines`` text does not already
    name (labels written since they carry both); empty if none is left."""
    environments = _environments(board)
    ids = dict.fromkeys(str(env["cpu_id"]) for env in environments if env.get("cpu_id"))
    ids = {i: None for i in ids if str(cpu_generation(i) or i) not in machines}
    levels = dict.fromkeys(str(env["cpu_capability"]) for env in environments if env.get("cpu_capability"))
    levels = {level: None for level in levels if level not in machines}
    parts = [*([", ".join(ids)] if ids else []), *([f"kernels {', '.join(levels)}"] if levels else [])]
    return f" ({'; '.join(parts)})" if parts else ""


def _software(board: Board) -> str:
    commits, versions = [], []
    for env in _environments(board):
        git = env.get("git") or {}
        if git.get("commit"):
            commits.append(f"{str(git['commit'])[:10]}{' with uncommitted changes' if git.get('dirty') else ''}")
        libraries = env.get("libraries") or {}
        versions.append(f"Python {env.get('python', '?')}, torch {libraries.get('torch', '?')}")
    return f"suite at {', '.join(dict.fromkeys(commits)) or 'an unknown commit'}; {', '.join(dict.fromkeys(versions))}"


#: What the columns mean, said once above the boards.
LEGEND = (
    "Accuracy is on the test split, mean ± standard deviation over seeds (for a cross-validation, over the "
    "folds, each fold's accuracy the mean over its seeds). Latency: eager PyTorch on the CPU, batch 1, 1 thread, "
    "mean over seeds. Int8 drop: float32 minus static-int8 accuracy in ONNX Runtime, same examples. Per hop: "
    "one streaming step (`state`: an exact streamer; `window`: the model run again on its whole window). "
    "Rank 1 is the best mean accuracy; ties share a rank."
)


def describe(board: Board) -> str:
    """The lines above a board: data and protocol, budget, seeds and status; machine and software."""
    config = board.first.get("config") or {}
    data = board.first.get("dataset") or {}
    row = board.summary.iloc[0]
    seeds = ", ".join(str(s) for s in config.get("seeds", [])) or "?"
    labels = [c.get("machine") for m in board.manifests for c in m.get("machines") or []]  # who wrote trials
    labels = labels or [machine_label(m) for m in board.manifests]  # a run still going has no list yet
    machines = "; ".join(dict.fromkeys(str(label) for label in labels)) or "unknown machine"  # labels hold commas
    epochs = (config.get("training") or {}).get(EPOCHS, "?")  # the config's key has the metric's name
    budget = f"{numbers.compact_count(float(row['budget']))} {row['budget_kind']}"
    version = "v" + str(data.get("version", "?")).removeprefix("v")
    return (
        f"- {data.get('name', row['dataset'])} {version}, protocol `{row['protocol']}`; {budget}; "
        f"seeds {seeds}; up to {epochs} epochs. Status: {_status(board)}.\n"
        f"- Measured on {machines}{_kernels(board, machines)}; {_software(board)}."
    )


def _cell(row: pd.Series | None, column: str, fmt: Any) -> str:
    return str(fmt(row[column])) if row is not None and column in row.index else numbers.MISSING


def _per_hop(row: pd.Series | None) -> str:
    hop = _cell(row, STREAM_FRAME_MS, numbers.milliseconds)
    if row is not None and hop != numbers.MISSING and isinstance(row.get(STREAM_MODE), str):
        hop = f"{hop} ({row[STREAM_MODE]})"
    return hop


def table(board: Board, machines: list[str] | None = None) -> str:
    """The board as a GitHub pipe table: rank, model, accuracy ± spread, params, MACs, latency, int8 drop, per hop.

    Args:
        board (Board): Its summary holds the rows to rank (one per model).
        machines (list[str] | None): For a board pooled over machines, the machines whose rows
            (in ``board.summary`` too) give a latency and a per-hop column each, lettered A, B...;
            ``None``: the ranked rows' own. (Default: ``None``)
    """
    ranked = board.ranked if machines is None else _ranked(board, pooled=True)
    costs = {} if machines is None else {m: board.summary[board.summary["machine"].astype(str) == m] for m in machines}
    letters = machine_letters(machines or [])
    each = [f" ({letters[m]})" for m in machines] if machines else [""]
    header = [
        "rank", "model", ACCURACY.label, "trials", PARAMS.label, MACS.label,
        *(f"latency{e}" for e in each), "int8 drop", *(f"per hop{e}" for e in each),
    ]  # fmt: skip
    align = ["---:", ":---", *["---:"] * (len(header) - 2)]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    folds = len((board.first.get("dataset") or {}).get("folds") or {}) or 1
    planned = len((board.first.get("config") or {}).get("seeds") or []) * folds  # trials per model when complete
    for _, row in ranked.iterrows():
        rank = numbers.MISSING if numbers.missing(row["rank"]) else str(int(row["rank"]))
        accuracy = numbers.percent(row.get(f"{ACCURACY}_mean"), row.get(f"{ACCURACY}_std"))
        timed = [row] if machines is None else [_model_row(costs[m], row["model"]) for m in machines]
        cells = [
            rank,
            f"`{row['model']}`",
            accuracy,
            f"{int(row['n_ok'])} of {max(planned, int(row['n_trials']))}",
            _cell(row, PARAMS, numbers.count),
            _cell(row, MACS, numbers.count),
            *(_cell(r, LATENCY_MS, numbers.milliseconds) for r in timed),
            _cell(row, f"{INT8['static'].drop}_mean", numbers.points),
            *(_per_hop(r) for r in timed),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ranked(board: Board, pooled: bool) -> pd.DataFrame:
    """:attr:`Board.ranked` of the pooled rows (``pooled``) or of the others."""
    keep = board.summary["machine"].map(is_pooled) == pooled
    return dataclasses.replace(board, summary=board.summary[keep]).ranked


def _model_row(rows: pd.DataFrame, model: str) -> pd.Series | None:
    found = rows[rows["model"] == model]
    return found.iloc[0] if len(found) else None


def tables(board: Board) -> str:
    """:func:`table`; for a run that several machines shared, its pooled board; for runs of the same trials on
    several machines, one board per machine.

    A run resumed on another machine ranks its models by the accuracy over all their
    trials (the summary's ``pooled: ...`` rows, :func:`suite.reporting.summary.pooled_trials`)
    and gives each machine's latency in a column of its own: latency from two CPUs is
    never averaged. As in the report (:mod:`suite.reporting.build`), the same trials run
    on two machines make a board each.
    """
    if "machine" not in board.summary:
        return table(board)
    labels = list(dict.fromkeys(board.summary["machine"].astype(str)))
    pooled = [label for label in labels if is_pooled(label)]
    if pooled:
        machines = pooled_machines(pooled[0])
        letters = machine_letters(machines)
        counts = board.summary[~board.summary["machine"].map(is_pooled)].groupby("machine")["n_trials"].sum()
        shares = "; ".join(f"{letters[m]}: {m}, {int(counts.get(m, 0))} trials" for m in machines)
        intro = (
            f"The trials were measured on {len(machines)} machines ({shares}). Accuracy, trials and int8 drop are over "
            "all of them; latency and per hop are each machine's own, over the trials it ran."
        )
        return f"{intro}\n\n{table(board, machines)}"
    if len(labels) < 2:
        return table(board)
    parts = [f"The trials were measured on {len(labels)} machines: one board each."]
    for machine in labels:
        part = dataclasses.replace(board, summary=board.summary[board.summary["machine"].astype(str) == machine])
        parts.append(f"Machine {machine}:\n\n{table(part)}")
    return "\n\n".join(parts)


def boards_markdown(root: Path, links_from: Path) -> str:
    """Every reference board, each under a heading with its description and a link to its full report.

    Args:
        root (Path): The repository.
        links_from (Path): The folder (relative to ``root``) the Markdown lives in: links are relative to it.
    """
    parts = []
    for name in config_names(root):
        board = read_board(root, name)
        link = Path(os.path.relpath(REPORTS / name / "README.md", links_from))
        if board is None or board.summary.empty:
            parts.append(f"#### `{name}`\n\nNot run yet (`configs/reference/{name}.yaml`).")
            continue
        report = f"- [Full report]({link.as_posix()}): plots, every timed setting, training curves."
        parts.append(f"#### `{name}`\n\n{describe(board)}\n{report}\n\n{tables(board)}")
    return "\n\n".join([LEGEND, *parts])


def replace_block(text: str, block: str) -> str:
    """``text`` with what lies between :data:`BEGIN` and :data:`END` replaced by ``block``.

    Raises:
        SuiteError: when the markers are missing or out of order.
    """
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise SuiteError(f"the README has no leaderboard block: add the lines {BEGIN!r} and {END!r} where it goes")
    return f"{text[: start + len(BEGIN)]}\n{block}\n{text[end:]}"


def readme_block(text: str) -> str:
    """What the README holds between the markers (without them); empty when it has none."""
    start, end = text.find(BEGIN), text.find(END)
    return text[start + len(BEGIN) : end].strip("\n") if 0 <= start < end else ""
