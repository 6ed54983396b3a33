"""Errors that are the user's to fix.

Everything raised as :class:`SuiteError` is printed by the CLI as one line, without a
traceback (unless ``--debug``), and ends the command with a non-zero exit code. Any
other exception is a bug in the suite and keeps its traceback.
"""


class SuiteError(Exception):
    """A problem with the user's input: a name, a number, a file or a setting."""


class UnknownNameError(SuiteError, KeyError):
    """A name that is not in a registry; the message lists what is available."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CountingError(RuntimeError):
    """A count that would be wrong: an op that carries MACs was left uncounted."""
