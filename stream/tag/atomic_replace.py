"""Change a user's file all-or-nothing: the change is made to a copy beside it, which is
then renamed over it.

mutagen saves tags in place: when a tag outgrows its padding, every audio byte behind it
is moved within the same file, and a stop, a crash or a power cut in the middle leaves
a file that is neither the old one nor the new one (FFmpeg cannot decode it). Here the
copy lives in the same folder (one file system, so the rename is atomic), gets the
original's permission bits (and owner, where the process may set it), is flushed to disk
before the rename, and the folder is flushed after it, so the rename survives a power
cut too. Any failure, an interrupt included, removes the copy and leaves the original
as it was. The replaced file is a new inode: its modification time is the write's, and
a hard link elsewhere keeps the old content; a symbolic link is followed, and its
target replaced.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# The copies' names: hidden, beside the file, recognisable if a power cut leaves one.
TEMP_SUFFIX = ".genrescope-tmp"


@contextmanager
def replaced_atomically(path: str | Path) -> Iterator[Path]:
    """A byte copy of ``path`` to change in the block; when the block ends without an
    error, the copy replaces ``path`` in one step. The caller holds stop signals around
    the block if what it records afterwards must agree with the file (stop_signals)."""
    target = Path(os.path.realpath(path))
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=TEMP_SUFFIX)
    copy = Path(name)
    try:
        with os.fdopen(handle, "wb") as out, open(target, "rb") as original:
            shutil.copyfileobj(original, out, 1 << 20)
            _keep_owner_and_mode(original.fileno(), out.fileno())
        yield copy
        _flush(copy)
        os.replace(copy, target)
    except BaseException:
        copy.unlink(missing_ok=True)
        raise
    _flush(target.parent)


def _keep_owner_and_mode(original: int, copy: int) -> None:
    stat = os.fstat(original)
    with contextlib.suppress(PermissionError):  # only root gives a file away; the mode is kept regardless
        os.fchown(copy, stat.st_uid, stat.st_gid)
    os.fchmod(copy, stat.st_mode & 0o7777)


def _flush(path: Path) -> None:
    """fsync a file, or a folder (its entries: the rename)."""
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
