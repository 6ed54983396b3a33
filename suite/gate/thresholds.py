"""``--fail-on``: how large a change of each metric must be to count as a regression.

A spec is comma-separated ``metric=threshold`` items, e.g.
``latency=10%,accuracy=0.5pt,params=any``. Metrics and the thresholds they accept:

- ``latency``: a relative change of every timed setting's latency, ``10%``. A latency
  change counts only when it is also statistically significant (see
  :mod:`suite.gate.latency`); the percentage is the smallest effect worth failing on.
  Throughput is not judged separately (at one batch size it is the latency's inverse).
- ``accuracy`` (also ``macro_f1``): a drop in percentage points, ``0.5pt``, that must
  also exceed the seed spread.
- ``memory``: a relative growth of peak memory, ``20%``.
- ``params``, ``macs``: ``any`` (every change fails), ``tolerance`` (fails only when the
  budget matcher's result moved outside its tolerance) or ``off``.
- ``missing``: what a lost result is, when BASE had the model with at least one ``ok``
  seed and NEW has it ``failed`` (every trial, or some seeds), not at all, with seeds
  planned but never run, or with a NaN accuracy or macro-F1: ``fail`` (the default: a
  regression) or ``ignore`` (reported as ``missing``, as a model only in NEW always is).

Any metric can be ``off`` (for ``missing``: the same as ``ignore``). Metrics left out keep
their defaults (:data:`DEFAULT_FAIL_ON`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

from suite.errors import SuiteError, short_text
from suite.metrics import ACCURACY, MACS, PARAMS

ExactRule = Literal["any", "tolerance", "off"]
MissingRule = Literal["fail", "ignore"]
#: The metrics ``--fail-on`` knows, as its error for an unknown one lists them.
METRICS = ("latency", ACCURACY, "memory", PARAMS, MACS, "missing")


@dataclass(frozen=True)
class FailOn:
    """Thresholds of the gate; ``None`` switches a metric off.

    Attributes:
        latency (float | None): Smallest relative latency change that counts (0.10 = 10 %).
        accuracy (float | None): Smallest accuracy drop that counts, in points (0.5 = 0.5 pt).
        memory (float | None): Smallest relative peak-memory growth that counts.
        params (ExactRule): When a parameter-count change counts.
        macs (ExactRule): When a MAC-count change counts.
        missing (MissingRule): Whether a result BASE had and NEW lost (failed, missing or
            NaN) is a regression (``fail``) or only reported (``ignore``).
    """

    latency: float | None = 0.10
    accuracy: float | None = 0.5
    memory: float | None = 0.20
    params: ExactRule = "tolerance"
    macs: ExactRule = "tolerance"
    missing: MissingRule = "fail"

    def describe(self) -> str:
        """The spec back as text, e.g. ``latency=10%,accuracy=0.5pt,...``."""

        def relative(value: float | None) -> str:
            return "off" if value is None else f"{value * 100:g}%"

        accuracy = "off" if self.accuracy is None else f"{self.accuracy:g}pt"
        return (
            f"latency={relative(self.latency)},accuracy={accuracy},memory={relative(self.memory)},"
            f"params={self.params},macs={self.macs},missing={self.missing}"
        )


DEFAULT_FAIL_ON = FailOn()
#: Longest piece of a spec quoted back in an error (a spec can be any length).
_SHOWN = 60
_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)\s*%$")
_POINTS = re.compile(r"^(\d+(?:\.\d+)?)\s*pt$")


def _shown(text: str) -> str:
    """``text`` as quoted in an error: capped, so a pasted file does not become the message."""
    return short_text(text, _SHOWN)


def _relative(metric: str, text: str) -> float | None:
    if text == "off":
        return None
    match = _PERCENT.match(text)
    if not match:
        raise SuiteError(f"--fail-on {metric}={_shown(text)}: expected a percentage like {metric}=10% (or off)")
    return float(match.group(1)) / 100


def _points(text: str) -> float | None:
    if text == "off":
        return None
    match = _POINTS.match(text)
    if not match:
        raise SuiteError(f"--fail-on accuracy={_shown(text)}: expected percentage points like accuracy=0.5pt (or off)")
    return float(match.group(1))


def _exact(metric: str, text: str) -> ExactRule:
    if text not in ("any", "tolerance", "off"):
        raise SuiteError(f"--fail-on {metric}={_shown(text)}: expected any, tolerance or off")
    return text  # type: ignore[return-value]


def _missing(text: str) -> MissingRule:
    if text not in ("fail", "ignore", "off"):
        raise SuiteError(f"--fail-on missing={_shown(text)}: expected fail or ignore (failed, missing or NaN results of NEW)")
    return "ignore" if text == "off" else text  # type: ignore[return-value]


def parse_fail_on(spec: str | None) -> FailOn:
    """Parse a ``--fail-on`` spec (``None`` or ``""``: the defaults).

    Raises:
        SuiteError: naming the item that is malformed or the metric that is unknown.
    """
    fail_on = DEFAULT_FAIL_ON
    if not spec:
        return fail_on
    for item in spec.split(","):
        metric, equals, value = item.strip().partition("=")
        metric, value = metric.strip().lower(), value.strip().lower()
        if not equals or not metric or not value:
            raise SuiteError(f"--fail-on: {_shown(item.strip())!r} is not metric=threshold (e.g. latency=10%,accuracy=0.5pt)")
        if metric in ("latency", "memory"):
            fail_on = replace(fail_on, **{metric: _relative(metric, value)})
        elif metric == ACCURACY:
            fail_on = replace(fail_on, accuracy=_points(value))
        elif metric in (PARAMS, MACS):
            fail_on = replace(fail_on, **{metric: _exact(metric, value)})
        elif metric == "missing":
            fail_on = replace(fail_on, missing=_missing(value))
        else:
            expected = f"{', '.join(METRICS[:-1])} or {METRICS[-1]}"
            raise SuiteError(f"--fail-on: unknown metric {_shown(metric)!r}; expected {expected} (e.g. missing=ignore)")
    return fail_on
