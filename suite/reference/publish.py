"""``suite reference report``: every reference config's report, the index of leaderboards and the README's block."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from suite.fileio import atomic_write
from suite.reference.leaderboard import REPORTS, RESULTS, boards_markdown, config_names, replace_block

INDEX_HEAD = """# Reference results

Written by `suite reference report` from the runs committed under `results/reference/`
(one folder per config of `configs/reference/`); each board links its full report.
Every number is what the suite measured on the machine named with it, at the commit named
with it; none is copied from elsewhere.

"""


@dataclass(frozen=True)
class ReferenceFiles:
    """What ``suite reference report`` wrote: the report folders, the index and the README."""

    reports: list[Path]
    index: Path
    readme: Path


def write_reference(root: str | Path = ".") -> ReferenceFiles:
    """Report every reference config that has runs, then write the index and the README's leaderboard block.

    Raises:
        SuiteError: when the README has no leaderboard block, or a report cannot be written.
    """
    from suite.reporting import write_report

    root = Path(root)
    readme = root / "README.md"
    text = readme.read_text()
    replace_block(text, "")  # a README without the block fails before any report is written
    reports = []
    for name in config_names(root):
        if any((root / RESULTS / name).glob("*/manifest.json")):
            reports.append(write_report([root / RESULTS / name], out=root / REPORTS / name).folder)
    index = root / REPORTS / "README.md"
    index.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(index) as file:
        file.write(INDEX_HEAD + boards_markdown(root, REPORTS) + "\n")
    with atomic_write(readme) as file:
        file.write(replace_block(text, boards_markdown(root, Path())))
    return ReferenceFiles(reports, index, readme)
