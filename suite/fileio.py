"""Writing files so that a crash never leaves half of one.

Every file the suite rewrites goes through :func:`atomic_write`: the new content is
written to a temporary file in the same folder, synced, given the permissions a plain
``open`` would give, and renamed over the old file. A reader sees the old file or the
new one, never a mixture; an interrupted write leaves no ``.part`` file behind.
:func:`append_line` adds a line to a log so that it is there whole or not at all, and
:func:`check_writable` refuses a folder the suite could not write to before any work starts.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from suite.errors import SuiteError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: Path, binary: bool = False) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success it replaces ``path``.

    Example::

        with atomic_write(folder / "results.csv") as out:
            out.write(text)
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        os.fchmod(handle, 0o666 & ~_umask())  # mkstemp's 0600 would hide results from other users
        with os.fdopen(handle, "wb" if binary else "w") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def append_line(path: Path, data: bytes) -> None:
    """Append ``data`` (one line, with its newline) to ``path`` and sync it; on failure nothing is left of it.

    A full disk or a file-size limit can stop a write midway; the file is then cut back to
    its length before the append, so the next reader does not find half a line.

    Raises:
        OSError: as the system raised it (``ENOSPC``, ``EFBIG``, ``EACCES``...).
    """
    handle = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)  # the umask applies, as for open()
    try:
        size = os.fstat(handle).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(handle, view) :]
            os.fsync(handle)
        except OSError:
            with contextlib.suppress(OSError):  # cutting back frees space, so it works on a full disk too
                os.ftruncate(handle, size)
            raise
    finally:
        os.close(handle)


def _nearest_existing(folder: Path) -> Path:
    """``folder`` itself if it exists, else its closest existing parent (``exists`` hides permission errors)."""
    existing = folder
    while not os.path.exists(existing) and existing != existing.parent:
        existing = existing.parent
    return existing


def check_writable(folder: Path, what: str) -> None:
    """Refuse, in one line, a folder that this process could not create or write files in.

    Nothing is created: the folder, or the closest parent that exists when it does not,
    must be a folder this process may write in (permission bits, ACLs and read-only
    mounts as the system reports them for the effective user).

    Args:
        folder (Path): The folder that will be written.
        what (str): How the message names it, e.g. ``--out``.

    Raises:
        SuiteError: naming ``folder`` and why it cannot be written.
    """
    existing = _nearest_existing(folder.absolute())
    itself = existing == folder.absolute()
    if not existing.is_dir():
        raise SuiteError(f"{what} {folder}{'' if itself else f': {existing}'} is a file, not a folder")
    effective = os.access in os.supports_effective_ids  # root's real id may differ from the effective one
    if os.access(existing, os.W_OK | os.X_OK, effective_ids=effective):
        return
    try:
        read_only = bool(os.statvfs(existing).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    cause = "read-only file system" if read_only else "permission denied"
    if itself:
        raise SuiteError(f"{what} {folder} is not writable ({cause})")
    raise SuiteError(f"{what} {folder} cannot be created: {existing} is not writable ({cause})")
