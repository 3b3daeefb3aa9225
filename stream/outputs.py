"""Where the CLI's, the servers' and the training commands' output goes: standard output
that ends quietly when its reader leaves, and files that are replaced whole or not at all.

A file a command writes (segments, a report, a plot, an export, a metrics record, a
training checkpoint) may already hold a good result: yesterday's report, the record the
repository ships, the checkpoint a resumed run needs. Written in place, a Ctrl-C, a full
disk or a crash half-way leaves neither the old file nor the new one. So every such file
(and every audio or model file changed in place: mutagen moves every audio byte when a
tag outgrows its padding, and a stop in that move left an MP3 FFmpeg could not decode)
is written as a hidden copy beside it (one file system, so the rename is atomic), flushed
to disk, given the file's permission bits (and owner, where the process may), and renamed
over it; the folder is flushed after, so the rename survives a power cut too. Any error
or interrupt removes the copy and leaves the file as it was. tests/test_outputs.py checks
that every file stream/ and training/ write goes through here.

A file that two runs must not write at once (the tag store, the airplay log) is held by
one run (``held_alone``): a second run is told so in one line and changes nothing.

A room of its own because every layer writes outputs; it imports nothing of genrescope.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import shutil
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

# The copies' names: hidden, beside the file, recognisable if a power cut leaves one.
TEMP_SUFFIX = ".genrescope-tmp"


@contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """An empty file beside ``path`` to write in the block; when the block ends without an
    error, it replaces ``path`` in one step. A symbolic link is followed and its target
    replaced; the replaced file is a new inode (a hard link elsewhere keeps the old one)."""
    target = Path(os.path.realpath(path))
    if _special(target):  # a folder, a device, a pipe: nothing to rename over
        raise OSError(errno.EINVAL, "not a regular file, so it cannot be replaced whole", str(path))
    copy = _new_copy(target)
    try:
        yield copy
        _flush(copy)
        os.replace(copy, target)
    except BaseException:
        copy.unlink(missing_ok=True)
        raise
    _flush(target.parent)


@contextmanager
def written_whole(path: str | Path, mode: str = "w", **options: Any) -> Iterator[IO[Any]]:
    """``path`` opened for writing (``open``'s ``mode`` and options), as a copy that
    replaces it once the block ends without an error. A path that is not a regular file
    (``/dev/stdout``, a named pipe) is written as it is: it cannot be replaced, and must
    not be (``--plot /dev/null`` run as root would put a file where the device was)."""
    if _special(path):
        with open(path, mode, **options) as out:
            yield out
        return
    with replacing(path) as copy, open(copy, mode, **options) as out:
        yield out


def write_text_whole(path: str | Path, text: str) -> None:
    """``Path.write_text``, whole or not at all."""
    with written_whole(path, encoding="utf-8") as out:
        out.write(text)


@contextmanager
def changed_whole(path: str | Path) -> Iterator[Path]:
    """A byte copy of ``path`` to change in the block (tags into an audio file, a card into
    a model file); it replaces ``path`` once the block ends without an error. The caller
    holds stop signals around the block where what it records afterwards must agree with
    the file (stream/tag/stop_signals.py)."""
    with replacing(path) as copy:
        shutil.copyfile(path, copy)
        yield copy


class HeldElsewhereError(Exception):
    """Another run holds the file this run would write: one line, exit 2."""


@contextmanager
def held_alone(path: str | Path, holder: str, advice: str) -> Iterator[None]:
    """``path`` written by this run alone until the block ends; another run that tries is
    refused with ``HeldElsewhereError`` ("PATH is in use by another HOLDER (pid N);
    ADVICE"). The lock is the kernel's (``flock`` on ``PATH.lock``, which names its
    holder's pid), so a run that dies, even by SIGKILL, releases it; readers take none."""
    with open(f"{path}.lock", "a+") as lock:  # "a+": a refused run must not empty the holder's file
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            raise HeldElsewhereError(
                f"{path} is in use by another {holder} (pid {lock.read().strip() or '?'}); {advice}"
            ) from None
        lock.truncate(0)
        lock.write(str(os.getpid()))
        lock.flush()
        yield  # closing the file releases the lock


def save_figure(figure: Any, path: str | Path, **options: Any) -> None:
    """A matplotlib figure saved whole, in the format its file name says."""
    with written_whole(path, "wb") as out:
        figure.savefig(out, format=Path(path).suffix.lstrip(".") or None, **options)


def _special(path: str | Path) -> bool:
    """Whether ``path`` exists and is something other than a regular file."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        return False


def _new_copy(target: Path) -> Path:
    """A new, empty, hidden file beside ``target``, created as ``open`` would create
    ``target`` (mode 0o666 less the umask), then given an existing target's mode and owner."""
    while True:
        copy = target.with_name(f".{target.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
        try:
            handle = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:  # a name already taken: draw another
            continue
        try:
            _take_owner_and_mode(target, handle)
        except BaseException:
            copy.unlink(missing_ok=True)
            raise
        finally:
            os.close(handle)
        return copy


def _take_owner_and_mode(target: Path, handle: int) -> None:
    """An existing file's mode and owner go to its copy."""
    try:
        existing = os.stat(target)
    except FileNotFoundError:
        return
    with contextlib.suppress(PermissionError):  # only root gives a file away; the mode is kept regardless
        os.fchown(handle, existing.st_uid, existing.st_gid)
    os.fchmod(handle, existing.st_mode & 0o7777)


def _flush(path: Path) -> None:
    """fsync a file, or a folder (its entries: the rename)."""
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def quiet_broken_pipe() -> int:
    """After stdout's reader went away (``genrescope ... | head``): end quietly, as Unix
    tools do. stdout is pointed at /dev/null so Python's own flush at exit does not fail
    again; the status is the shell's for a process ended by SIGPIPE."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 128 + 13
