"""Command-line interface: ``suite COMMAND ...``. Each command calls one library function.

Exit codes, the same for every command:

- ``0``: done, and the result is good;
- ``1``: done, and the result is a failure: ``suite compare`` found a regression
  (:mod:`suite.gate`), ``suite run`` has a trial whose latest record is ``failed``
  (a summary line after the table names them; ``infeasible`` trials are results, not
  failures);
- ``2``: bad input or an environment the user must fix (:class:`suite.errors.SuiteError`
  and argument errors): one line on stderr;
- ``3``: an internal error (any other exception: a bug): one line on stderr,
  ``suite <command>: internal error: <Type>: <message> (this is a bug; --debug shows the traceback)``;
- ``130``: interrupted (Ctrl-C, or SIGTERM during ``suite run``).

``--debug`` prints the traceback of a code 2 or 3 error before its line.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from suite import __version__
from suite.errors import SuiteError, short_line
from suite.interrupts import stop_signals_as_interrupt
from suite.metrics import (
    ACCURACY,
    BUDGET_ERROR,
    EPOCHS,
    LATENCY_E2E_MS,
    LATENCY_MIN_MS,
    LATENCY_MS,
    LATENCY_MS_ONNXRUNTIME,
    LATENCY_REL,
    MACRO_F1,
    MACS,
    MODEL_BYTES,
    PARAMS,
    PEAK_MEM_INFER_MB,
    PEAK_MEM_TRAIN_MB,
    STREAMING,
    THROUGHPUT,
)
from suite.reference.cli import add_reference_parser

DEFAULT_CONFIG = "configs/default.yaml"
#: Exit codes (see the module docstring).
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
#: The exit codes, as every --help ends.
EXIT_CODES = (
    "exit codes: 0 ok; 1 the result is a failure (compare: something regressed; run: a trial failed); "
    "2 bad input (one line); 3 internal error, a bug (one line; --debug shows the traceback); 130 interrupted"
)
#: Longest message of an internal error, and of the failed-trials summary of `suite run`, on their one line.
_MESSAGE_CHARS = 300


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other error of the suite."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 2:
        raise argparse.ArgumentTypeError(f"expected at least 2, got {value}")
    return value


def _number(text: str, smallest: float, strict: bool, kind: type = float) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a {'whole ' if kind is int else ''}number, got {text!r}") from None
    if value < smallest or (strict and value == smallest):
        raise argparse.ArgumentTypeError(f"expected {'more than' if strict else 'at least'} {smallest:g}, got {value:g}")
    return value


def _positive_number(text: str) -> float:
    return _number(text, 0, strict=True)


def _non_negative_number(text: str) -> float:
    return _number(text, 0, strict=False)


def _non_negative_int(text: str) -> int:
    return int(_number(text, 0, strict=False, kind=int))


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 0.05, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {value:g}")
    return value


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")

    parser = _Parser(
        prog="suite", description="Benchmark audio architectures at the same budget.", epilog=EXIT_CODES, parents=[common]
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    listing = commands.add_parser("list", help="list registered models, data sets or input presets", parents=[common])
    listing.add_argument("what", choices=["models", "inputs", "datasets"], help="what to list")
    listing.add_argument("--format", choices=["table", "csv", "json", "md"], default="table")
    listing.set_defaults(handler=_list)

    profile = commands.add_parser(
        "profile", help="match models to a budget and count params and MACs (no training)", parents=[common]
    )
    profile.add_argument("--models", default="all", help="'all' or comma-separated names or patterns (default: all)")
    budget = profile.add_mutually_exclusive_group(required=True)
    budget.add_argument("--params", metavar="N", help="parameter budget, e.g. 100k")
    budget.add_argument("--macs", metavar="N", help="MAC budget per example, e.g. 5M")
    profile.add_argument("--input", default="default", help="input preset (see `suite list inputs`; default: default)")
    profile.add_argument("--classes", type=_positive_int, help="output classes (default: the preset's data set)")
    profile.add_argument("--tolerance", type=_fraction, default=0.05, help="accepted budget error (default: 0.05)")
    profile.add_argument("--format", choices=["table", "csv", "json", "md"], default="table")
    speed = profile.add_argument_group("time and memory (with --latency)")
    speed.add_argument("--latency", action="store_true", help="also time each model and measure its peak memory")
    speed.add_argument("--batch-sizes", default="1,32", help="batch sizes to time (default: 1,32)")
    speed.add_argument("--threads", default="1", help="CPU thread counts to time with (default: 1)")
    speed.add_argument("--devices", default="cpu", help="cpu and/or cuda (default: cpu)")
    speed.add_argument(
        "--backends", default="eager", help="eager, compile and/or onnxruntime; any but eager implies --latency (default: eager)"
    )
    speed.add_argument("--min-run-time", type=float, default=0.3, help="seconds of timed runs per figure (default: 0.3)")
    speed.add_argument("--streaming", action="store_true", help="also the cost per hop of listening to a stream")
    profile.set_defaults(handler=_profile)

    run = commands.add_parser(
        "run", help="train every model of a config and record accuracy and cost; exit 1 when a trial failed", parents=[common]
    )
    run.add_argument("config", nargs="?", default=DEFAULT_CONFIG, help=f"YAML config (default: {DEFAULT_CONFIG})")
    run.add_argument("--data-root", help="folder holding the data sets (default: $SUITE_DATA_ROOT or a per-user cache)")
    run.add_argument("--out", default="results", help="parent folder of the run folder (default: results)")
    run.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="where to train (default: auto)")
    run.add_argument("--cache-dir", help="feature cache (default: $SUITE_CACHE_DIR or a per-user cache)")
    where = run.add_argument_group("executor (where trials run)")
    where.add_argument("--executor", choices=["local", "ray"], default="local", help="local (default, one at a time) or ray")
    where.add_argument("--address", help="ray: join this cluster (auto or HOST:PORT; default: start a local one)")
    where.add_argument("--cpus-per-trial", type=_positive_number, help="ray: CPUs (and threads) per trial (default: 1)")
    where.add_argument("--gpus-per-trial", type=_non_negative_number, help="ray: GPUs per trial (default: 0)")
    where.add_argument("--max-retries", type=_non_negative_int, help="ray: reruns of a trial whose worker died (default: 2)")
    again = run.add_argument_group("resuming")
    again.add_argument(
        "--resume", nargs="?", const=True, metavar="RUN_DIR",
        help="continue RUN_DIR (default: the latest run of this config under --out), skipping finished trials",
    )  # fmt: skip
    again.add_argument("--retry-failed", action="store_true", help="when resuming, run failed trials again")
    run.set_defaults(handler=_run)

    report = commands.add_parser("report", help="write an HTML and Markdown report of one or more runs", parents=[common])
    report.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="results folder(s) of `suite run` (or a folder of them)")
    report.add_argument("--out", help="report folder (default: reports/<run name>)")
    report.add_argument("--format", default="html,md", help="html, md or html,md (default); summary.csv and plots always")
    report.set_defaults(handler=_report)

    compare = commands.add_parser(
        "compare", help="judge NEW against BASE; exit 1 when something regressed (2: bad input, 3: internal error)",
        parents=[common],
    )  # fmt: skip
    compare.add_argument("base", metavar="BASE", help="results folder or a report's summary.csv")
    compare.add_argument("new", metavar="NEW", help="results folder or a report's summary.csv")
    default = _fail_on_default().replace("%", "%%")  # argparse expands % in help text
    fail_on_help = (
        "thresholds, e.g. latency=10%%,accuracy=0.5pt,params=any; a model BASE had ok that NEW has failed, not at all, "
        f"with seeds that never ran or a NaN accuracy is a regression unless missing=ignore (default: {default})"
    )
    compare.add_argument("--fail-on", help=fail_on_help)
    compare.add_argument(
        "--allow-different-data", action="store_true",
        help="judge a data set whose data (digest, class list) differ between BASE and NEW, marking its rows "
        "(default: refuse, exit 2)",
    )  # fmt: skip
    compare.add_argument("--format", choices=["table", "md", "json"], default="table", help="output (default: table)")
    compare.add_argument(
        "--latency-basis", choices=["auto", "ms", "rel"], default="auto",
        help="compare milliseconds or ratios to the interleaved reference kernel (default: auto, rel when both sides "
        "have it; when the sides ran on different machines latency is shown but not judged, unless ms or rel is asked for)",
    )  # fmt: skip
    compare.set_defaults(handler=_compare)

    history = commands.add_parser("history", help="trend of one metric over every run under a folder", parents=[common])
    history.add_argument("root", metavar="RESULTS_ROOT", help="folder of results folders")
    history.add_argument("--metric", default=LATENCY_MS, help="latency_ms (default), latency_rel, accuracy, params, ...")
    history.add_argument("--fail-on", help="thresholds a step must cross to be marked, as for compare (default: theirs)")
    history.add_argument("--out", help="write the table (.md or .csv) and a plot per model beside it")
    history.set_defaults(handler=_history)
    add_reference_parser(commands, common)
    for command in commands.choices.values():
        command.epilog = EXIT_CODES
    return parser


def _fail_on_default() -> str:
    from suite.gate.thresholds import DEFAULT_FAIL_ON

    return DEFAULT_FAIL_ON.describe()


def _list(args: argparse.Namespace) -> str:
    from suite.formatting import render
    from suite.listing import listing

    rows, columns = listing(args.what)
    return render(rows, args.format, columns)


def _profile(args: argparse.Namespace) -> str:
    from suite.api import profile
    from suite.formatting import profile_footer, render

    kind, budget = (PARAMS, args.params) if args.params is not None else (MACS, args.macs)
    timed = args.latency or args.backends.strip() != "eager"  # asking for a backend is asking for its latency
    latency = _latency_settings(args) if timed else False
    found = profile(
        args.models, budget, kind=kind, input=args.input, classes=args.classes, tolerance=args.tolerance, latency=latency,
        streaming=args.streaming,
    )  # fmt: skip
    columns = ["model", "width", PARAMS, MACS, MODEL_BYTES, BUDGET_ERROR, "status", "reason"]
    if timed:
        timing = [LATENCY_MS, LATENCY_MIN_MS, LATENCY_E2E_MS, LATENCY_REL, "latency_stability", THROUGHPUT]
        if LATENCY_MS_ONNXRUNTIME in found:
            timing[1:1] = [LATENCY_MS_ONNXRUNTIME]
        columns[6:6] = [*timing, PEAK_MEM_INFER_MB, PEAK_MEM_TRAIN_MB]
    if args.streaming:
        columns[6:6] = list(STREAMING)
    return render(found.to_dict("records"), args.format, columns, footer=profile_footer())


def _latency_settings(args: argparse.Namespace) -> object:
    from pydantic import ValidationError

    from suite.errors import short_repr
    from suite.measure.costs import LatencySettings

    def listed(text: str) -> list[str]:
        return [item.strip() for item in text.split(",") if item.strip()]

    try:
        return LatencySettings(
            devices=listed(args.devices),
            batch_sizes=listed(args.batch_sizes),
            threads=listed(args.threads),
            backends=listed(args.backends),
            min_run_time=args.min_run_time,
        )
    except ValidationError as error:
        first = error.errors()[0]
        option = "--" + str(first["loc"][0]).replace("_", "-")
        raise SuiteError(f"{option}: {first['msg']} (got {short_repr(first.get('input'))})") from None


def _run(args: argparse.Namespace) -> tuple[str, int]:
    from suite.api import run
    from suite.executors import make_executor
    from suite.formatting import render
    from suite.runner import RunInterrupted, resume_command

    ray_options = {"address": args.address, "cpus_per_trial": args.cpus_per_trial, "gpus_per_trial": args.gpus_per_trial}
    executor = make_executor(args.executor, **ray_options, max_retries=args.max_retries)
    options = {"data_root": args.data_root, "out": args.out, "device": args.device, "cache_dir": args.cache_dir}
    try:
        with stop_signals_as_interrupt():  # Ctrl-C, or a batch scheduler's SIGTERM, stops the run cleanly
            result = run(args.config, **options, executor=executor, resume=args.resume, retry_failed=args.retry_failed)
    except RunInterrupted as interrupted:
        settings = (args.data_root, args.cache_dir, args.device, args.retry_failed, executor.resume_options())
        command = resume_command(args.config, interrupted.run_dir, *settings)
        raise RunInterrupted(f"{interrupted}; resume with: {command}", interrupted.run_dir) from None
    columns = ["model", "budget", "seed", "width", PARAMS, MACS, ACCURACY, MACRO_F1, EPOCHS, "status"]
    summary = f"\n\n{failed_summary(result.failed, len(result.records))}" if result.failed else ""
    table = render(result.records, "table", columns)
    return f"{table}{summary}\n\nresults: {result.run_dir}", EXIT_FAILED if result.failed else EXIT_OK


def failed_summary(failed: list[dict[str, object]], total: int) -> str:
    """One line naming the failed trials: ``2 of 6 trials failed: cnn1d params=20k seed 0 (RuntimeError: ...), ...``."""
    from suite.budget import format_count

    def name(record: dict[str, object]) -> str:
        budget = record.get("budget")
        amount = format_count(budget) if isinstance(budget, int | float) else str(budget)
        reason = short_line(str(record.get("error") or "no reason recorded"), 80)
        return f"{record.get('model')} {record.get('budget_kind')}={amount} seed {record.get('seed')} ({reason})"

    text = f"{len(failed)} of {total} trials failed: {name(failed[0])}"
    for index, record in enumerate(failed[1:], start=1):
        longer = f"{text}, {name(record)}"
        tail = f", and {len(failed) - index - 1} more" if index < len(failed) - 1 else ""
        if len(longer) + len(tail) > _MESSAGE_CHARS:
            return f"{text}, and {len(failed) - index} more"
        text = longer
    return text


def _report(args: argparse.Namespace) -> str:
    from suite.api import report

    written = report(args.run_dirs, out=args.out, formats=args.format)
    names = ", ".join(p.name for p in written.files if p.parent == written.folder)
    return f"report: {written.folder} ({names}, {sum(p.suffix == '.png' for p in written.files)} plots)"


def _compare(args: argparse.Namespace) -> tuple[str, int]:
    from suite.api import compare
    from suite.gate import render_comparison

    allow = args.allow_different_data
    comparison = compare(args.base, args.new, args.fail_on, basis=args.latency_basis, allow_different_data=allow)
    return render_comparison(comparison, args.format), comparison.exit_code


def _history(args: argparse.Namespace) -> str:
    from suite.api import history
    from suite.gate import render_history, write_history

    followed = history(args.root, metric=args.metric, fail_on=args.fail_on)
    if args.out is None:
        return render_history(followed)
    written = write_history(followed, Path(args.out))
    return f"{render_history(followed)}\nwritten: {', '.join(map(str, written))}"


def internal_error_line(command: str, error: BaseException) -> str:
    """The one line of an internal error: its type and message (capped), and that it is a bug."""
    message = short_line(str(error), _MESSAGE_CHARS)
    described = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return f"suite {command}: internal error: {described} (this is a bug; --debug shows the traceback)"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code.

    0: ok; 1: the result is a failure (``compare``: something regressed; ``run``: a trial
    failed); 2: bad input (one line); 3: internal error, a bug (one line; ``--debug``
    prints the traceback); 130: interrupted. See the module docstring.
    """
    args = build_parser().parse_args(argv)
    debug = getattr(args, "debug", False)
    code = EXIT_OK
    try:
        result = args.handler(args)
        text, code = result if isinstance(result, tuple) else (result, EXIT_OK)  # compare and run may exit 1
        print(text)
    except SuiteError as error:
        if debug:
            traceback.print_exc()
        print(f"suite {args.command}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as interrupt:
        print(f"suite {args.command}: {interrupt or 'interrupted'}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`suite compare ... | head`): not an error of ours, and no traceback.
        # Point stdout at /dev/null so that Python's exit-time flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return code
    except Exception as error:  # a bug: one line (a CI log must not read it as "regressed"), the traceback on request
        if debug:
            traceback.print_exc()
        print(internal_error_line(args.command, error), file=sys.stderr)
        return EXIT_INTERNAL
    return code
