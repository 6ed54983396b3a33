"""Numbers as people read them: ``98.4 ± 0.3 %``, ``101.2 k``, ``3.4 M``, ``0.82 ms``; the one place figures are formatted.

Every function takes what a pandas column holds (float, int, NaN or None) and returns
a string; a missing value is an em dash, so an empty cell never looks like a zero.
``summary.csv`` keeps the full precision.
"""

from __future__ import annotations

import math
from typing import Any

MISSING = "—"


def missing(value: Any) -> bool:
    """True for None and NaN (and anything that is not a number)."""
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def count(value: Any) -> str:
    """``101200 -> '101.2 k'``, ``3400000 -> '3.4 M'``, ``840 -> '840'``: four significant digits."""
    if missing(value):
        return MISSING
    value = float(value)
    for suffix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.4g} {suffix}"
    return f"{value:.4g}"


def percent(mean: Any, std: Any = None, digits: int = 1) -> str:
    """``(0.984, 0.003) -> '98.4 ± 0.3 %'``; without a spread (one seed), ``'98.4 %'``."""
    if missing(mean):
        return MISSING
    if missing(std):
        return f"{100 * float(mean):.{digits}f} %"
    return f"{100 * float(mean):.{digits}f} ± {100 * float(std):.{digits}f} %"


def signed_percent(value: Any) -> str:
    """A relative error: ``-0.0028 -> '-0.3 %'``."""
    return MISSING if missing(value) else f"{100 * float(value):+.1f} %"


def milliseconds(value: Any) -> str:
    """``0.8213 -> '0.821 ms'``, ``12.34 -> '12.3 ms'``, ``1234.5 -> '1,234 ms'``: three significant digits."""
    if missing(value):
        return MISSING
    value = float(value)
    return f"{value:,.0f} ms" if abs(value) >= 1000 else f"{value:.3g} ms"


def mebibytes(value: Any) -> str:
    """``3.14159 -> '3.14 MiB'``."""
    if missing(value):
        return MISSING
    value = float(value)
    return f"{value:,.0f} MiB" if abs(value) >= 1000 else f"{value:.3g} MiB"


def ratio(value: Any) -> str:
    """A latency relative to the reference kernel: ``'2.31x'``."""
    return MISSING if missing(value) else f"{float(value):.3g}x"


def seconds(value: Any) -> str:
    """``13.2 -> '13 s'``, ``138 -> '2 min 18 s'``, ``4000 -> '1 h 6 min'``."""
    if missing(value):
        return MISSING
    total = round(float(value))
    if total < 60:
        return f"{float(value):.2g} s" if float(value) < 10 else f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def plain(value: Any, digits: int = 3) -> str:
    """Any other number, to ``digits`` significant digits; whole numbers as they are."""
    if missing(value):
        return MISSING
    value = float(value)
    return f"{value:,.0f}" if value.is_integer() else f"{value:.{digits}g}"


def compact_count(value: float) -> str:
    """``101200 -> '101.2k'``, ``3400000 -> '3.4M'``: a count as a budget is written (``params=100k``)."""
    for suffix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.4g}{suffix}"
    return f"{value:g}"


def rate(value: Any) -> str:
    """Examples per second: ``1234.5 -> '1,234/s'``."""
    return MISSING if missing(value) else f"{float(value):,.0f}/s"


def points(value: Any) -> str:
    """A difference of two accuracies (fractions) in percentage points: ``0.013 -> '+1.3 pt'``."""
    return MISSING if missing(value) else f"{100 * float(value):+.1f} pt"


def scientific(value: Any) -> str:
    """A small error: ``3.1e-07``."""
    return MISSING if missing(value) else f"{float(value):.1e}"
