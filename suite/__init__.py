"""Benchmark suite for audio deep-learning architectures.

The package answers one question: *at the same budget, which audio architecture is
best, and at what cost?* See ``README.md`` for the command-line interface; the
library API lives in :mod:`suite.models`, :mod:`suite.budget` and :mod:`suite.measure`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("audio-arch-suite")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
