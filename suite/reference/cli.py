"""``suite reference report|check``: the command line of :mod:`suite.reference` (kept here so that ``suite.cli`` stays thin)."""

from __future__ import annotations

import argparse
from typing import Any


def add_reference_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``suite reference`` with its two subcommands to the CLI's ``commands``."""
    from suite.cpu_isa import ORDER
    from suite.reference.reproduce import DEFAULT_TRIALS

    reference = commands.add_parser("reference", help="the published reference results: report, check", parents=[common])
    tasks = reference.add_subparsers(dest="task", required=True, metavar="TASK", parser_class=type(reference))
    report = tasks.add_parser(
        "report", parents=[common], help="write reports/reference/ and the README's leaderboard from results/reference/"
    )
    report.add_argument("--root", default=".", help="the repository (default: the current folder)")
    report.set_defaults(handler=_report)
    check = tasks.add_parser("check", parents=[common], help="re-run a sample of committed reference trials here and judge them")
    check.add_argument("name", help="a folder of results/reference, e.g. fsdd-100k")
    check.add_argument("--trials", type=int, default=DEFAULT_TRIALS, help=f"trials to re-run (default: {DEFAULT_TRIALS})")
    check.add_argument("--sample-seed", type=int, default=0, help="seed of the draw of trials (default: 0)")
    check.add_argument("--root", default=".", help="the repository (default: the current folder)")
    check.add_argument("--data-root", help="where the data sets live, as for `suite run`")
    check.add_argument("--cache-dir", help="feature cache, as for `suite run`")
    check.add_argument("--out", help="where the committed sample and the re-runs go (default: a new temporary folder)")
    check.add_argument(
        "--cpu-capability",
        choices=ORDER,
        help="instruction set the committed trials trained with where their records do not say (default: this machine's, "
        "then each lower one until one repeats the trial)",
    )
    check.set_defaults(handler=_check)


def _report(args: argparse.Namespace) -> str:
    from suite.reference.publish import write_reference

    written = write_reference(args.root)
    reports = ", ".join(str(folder) for folder in written.reports) or "none (no runs under results/reference)"
    return f"reports: {reports}\nleaderboards: {written.index} and {written.readme}"


def _check(args: argparse.Namespace) -> tuple[str, int]:
    from suite.gate import render_comparison
    from suite.reference.reproduce import check

    options = {"root": args.root, "out": args.out, "data_root": args.data_root, "cache_dir": args.cache_dir}
    found = check(args.name, trials=args.trials, seed=args.sample_seed, level_of_unrecorded=args.cpu_capability, **options)
    lines = [rerun.line() for rerun in found.reruns]
    verdict = "reproduced" if found.exit_code == 0 else "NOT reproduced"
    table = render_comparison(found.comparison, "table")
    text = "\n".join([*lines, "", table, "", f"{verdict}: {found.folder} (committed/ and rerun/)"])
    return text, found.exit_code
