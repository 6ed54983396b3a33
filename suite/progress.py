"""Progress of long steps (feature pass, epochs, trials, downloads): a bar on a terminal, plain lines in a log.

On a terminal a :mod:`tqdm` bar is drawn, as before. Off a terminal (output redirected to
a file: CI, ``nohup``, a cluster job) a bar would fill the log with carriage returns, so
plain lines go to stderr instead, at most one every ``SUITE_PROGRESS_SECONDS`` seconds
(default 30), plus a last one when the step ends, so a log shows a live run::

    features fsdd/official: 1200/12000 files, 41 s, ETA 6 min 9 s
    cnn1d params=20k seed 0: 3/30 epochs (loss 0.841, val acc 71.2 %), 12 s, ETA 1 min 48 s

A step shorter than the interval prints nothing off a terminal: the one line per
finished trial that ``suite run`` prints is enough there.

Example::

    with progress(total=len(files), desc="features fsdd/official", unit="file") as bar:
        for path in files:
            ...
            bar.update()
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Generic, TypeVar

from tqdm import tqdm

from suite.errors import SuiteError

T = TypeVar("T")

ENV_SECONDS = "SUITE_PROGRESS_SECONDS"
DEFAULT_SECONDS = 30.0


def log_interval() -> float:
    """Seconds between two progress lines off a terminal: ``$SUITE_PROGRESS_SECONDS``, or 30.

    Raises:
        SuiteError: when the variable is set to something other than a number of seconds >= 0.
    """
    text = os.environ.get(ENV_SECONDS, "").strip()
    if not text:
        return DEFAULT_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not (math.isfinite(seconds) and seconds >= 0):
        raise SuiteError(f"{ENV_SECONDS} must be a number of seconds >= 0 (0: a line per step), got {text[:40]!r}")
    return seconds


def duration(seconds: float) -> str:
    """``41 s``, ``6 min 9 s``, ``6 min``, ``2 h 5 min``: a duration for people."""
    total = max(0, round(seconds))
    if total < 60:
        return f"{total} s"
    if total < 3600:
        minutes, rest = divmod(total, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(round(total / 60), 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _amount(value: float, unit: str, scale: bool) -> str:
    """``12.3 MB`` with ``scale`` (SI prefixes, as tqdm's ``unit_scale``), else the plain count."""
    if not scale:
        return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
    for prefix, factor in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= factor:
            return f"{value / factor:.1f} {prefix}{unit}"
    return f"{value:g} {unit}"


class Progress(Generic[T]):
    """One step's progress; made by :func:`progress`, which decides how it is shown.

    Use it as a context manager or call :meth:`close`; iterating over it (when made with an
    iterable) counts one per item and closes it at the end.

    Attributes:
        n (float): Units done so far (including ``initial``).
        total (float | None): Units in all; ``None`` when unknown (then no ETA).
    """

    def __init__(
        self,
        iterable: Iterable[T] | None,
        total: float | None,
        desc: str,
        unit: str,
        unit_scale: bool,
        initial: float,
        bar: tqdm | None,
        interval: float | None,
        clock: Callable[[], float],
    ) -> None:
        """Use :func:`progress` rather than this.

        Args:
            bar (tqdm | None): The terminal bar, or ``None``.
            interval (float | None): Seconds between log lines off a terminal; ``None``: no lines.
            clock (Callable[[], float]): Monotonic seconds (a fake one in tests).
        """
        self.iterable, self.total, self.desc, self.unit, self.unit_scale = iterable, total, desc, unit, unit_scale
        self.n, self._initial, self._bar, self._interval, self._clock = initial, initial, bar, interval, clock
        self._start = self._last = clock()
        self._note = ""
        self._logged: tuple[float, str] | None = None  # (n, note) of the last line written
        self._weights: tuple[float, float] | None = None  # (done, left), set by weigh
        self._closed = False

    def __iter__(self) -> Iterator[T]:
        if self.iterable is None:
            raise TypeError("this progress was made without an iterable")
        try:
            for item in self.iterable:
                yield item
                self.update()
        finally:
            self.close()

    def __enter__(self) -> Progress[T]:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None) -> None:
        self.close()

    def update(self, n: float = 1) -> None:
        """Count ``n`` more units done; off a terminal, write a line if the interval has passed since the last one."""
        self.n += n
        if self._bar is not None:
            self._bar.update(n)
        elif self._interval is not None and self._clock() - self._last >= self._interval:
            self._log()

    def note(self, text: str) -> None:
        """Say what is happening now (a model's name, the last epoch's loss): after the count, in brackets."""
        self._note = text
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)

    def weigh(self, done: float, left: float) -> None:
        """Say how much work is done in this session and how much is left, when units differ in cost.

        The ETA becomes ``elapsed x left / done`` instead of counting every unit as equal;
        call it before :meth:`update`, whose line then shows it. ``done`` and ``left`` are in
        any one unit (:func:`suite.run_eta.weigh_work` uses each trial's expected seconds).
        """
        self._weights = (done, left)
        seconds = self._seconds_left(self._elapsed())
        if self._bar is not None and seconds is not None:  # tqdm's own ETA counts units as equal: show ours instead
            eta = tqdm.format_interval(seconds)
            self._bar.bar_format = f"{{l_bar}}{{bar}}| {{n_fmt}}/{{total_fmt}} [{{elapsed}}<{eta}, {{rate_fmt}}{{postfix}}]"

    def write(self, line: str) -> None:
        """Print a line to stderr without breaking the bar (a finished trial, say); written even when disabled."""
        if self._bar is not None:
            self._bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        """End the step: the bar is closed; off a terminal, the last state gets its line if any line was written."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        elif self._logged is not None and self._logged != (self.n, self._note):
            self._log()

    def line(self) -> str:
        """The state as one line: ``desc: done/total units (note), elapsed, ETA``."""
        elapsed = self._elapsed()
        plural = self.unit if self.unit_scale or self.unit.endswith("s") else self.unit + "s"
        done = _amount(self.n, self.unit, self.unit_scale)
        count = f"{done}/{_amount(self.total, self.unit, self.unit_scale)}" if self.total is not None else done
        text = f"{self.desc}: {count}" if self.desc else count
        text += "" if self.unit_scale else f" {plural}"
        if self._note:
            text += f" ({self._note})"
        text += f", {duration(elapsed)}"
        left = self._seconds_left(elapsed)
        if left is not None:
            text += f", ETA {duration(left)}"
        return text

    def _elapsed(self) -> float:
        return self._clock() - self._start

    def _seconds_left(self, elapsed: float) -> float | None:
        """``elapsed x left / done``: in units (this session's pace), or in the weights given to :meth:`weigh`."""
        if self.total is None or self.n >= self.total:
            return None
        done, left = self._weights or (self.n - self._initial, self.total - self.n)
        return elapsed * left / done if done > 0 else None

    def _log(self) -> None:
        print(self.line(), file=sys.stderr, flush=True)
        self._last, self._logged = self._clock(), (self.n, self._note)


def on_terminal() -> bool:
    """Whether stderr is a terminal (where a bar redraws in place); the streams are looked up now, not at import."""
    isatty = getattr(sys.stderr, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def progress(
    iterable: Iterable[T] | None = None,
    *,
    total: float | None = None,
    desc: str = "",
    unit: str = "it",
    unit_scale: bool = False,
    initial: float = 0,
    leave: bool = True,
    enabled: bool = True,
    clock: Callable[[], float] | None = None,
) -> Progress[T]:
    """The progress of one step: a tqdm bar on a terminal, rate-limited plain lines on stderr off one.

    Args:
        iterable (Iterable | None): Items to count while iterating over the result. (Default: ``None``:
            call :meth:`Progress.update`)
        total (float | None): Units in all; taken from ``len(iterable)`` when it has one. (Default: ``None``)
        desc (str): What is progressing, e.g. ``features fsdd/official``. (Default: ``""``)
        unit (str): One unit, singular: ``file``, ``epoch``, ``B``. (Default: ``"it"``)
        unit_scale (bool): Counts with SI prefixes (``12.3 MB``), for bytes. (Default: ``False``)
        initial (float): Units already done when it starts (a resumed run). (Default: 0)
        leave (bool): Keep the terminal bar once closed. (Default: ``True``)
        enabled (bool): ``False`` shows nothing (:meth:`Progress.write` still prints). (Default: ``True``)
        clock (Callable[[], float] | None): Monotonic seconds. (Default: ``time.monotonic``)

    Raises:
        SuiteError: off a terminal, when ``$SUITE_PROGRESS_SECONDS`` is not a number of seconds >= 0.
    """
    if total is None and iterable is not None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    bar, interval = None, None
    if enabled and on_terminal():
        bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=unit_scale, initial=initial, leave=leave, file=sys.stderr)
    elif enabled:
        interval = log_interval()
    return Progress(iterable, total, desc, unit, unit_scale, initial, bar, interval, clock or time.monotonic)
