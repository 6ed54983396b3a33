"""Reports: results folders in, a leaderboard per budget, plots with Pareto fronts and the method out.

>>> from suite.reporting import write_report
>>> report = write_report(["results/default-20261129-003032"], out="reports/default")  # doctest: +SKIP

:func:`load_results` is the one loader of results folders (the CLI, the report and the
tests use it); :func:`pareto_front` decides which points a front goes through.
"""

from suite.reporting.build import FORMATS, ReportFiles, parse_formats, write_report
from suite.reporting.pareto import pareto_front
from suite.results.load import Results, RunInfo, load_results

__all__ = ["FORMATS", "ReportFiles", "Results", "RunInfo", "load_results", "pareto_front", "parse_formats", "write_report"]
