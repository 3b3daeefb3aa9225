"""The shared all-or-nothing file change (stream/atomic_replace.py) on its own: a failure
leaves the file as it was and no copy behind; success keeps the file's mode, follows a
symbolic link, and holds stop signals only where asked (stream/stop_signals.py)."""

import os
import signal

import pytest

from genrescope.stream.tag.atomic_replace import TEMP_SUFFIX, replaced_atomically
from genrescope.stream.tag.stop_signals import stop_signals_held


def test_a_failure_inside_leaves_the_file_and_no_copy(tmp_path):
    path = tmp_path / "song.mp3"
    path.write_bytes(b"old bytes")
    with pytest.raises(KeyboardInterrupt), replaced_atomically(path) as copy:
        copy.write_bytes(b"half written")
        raise KeyboardInterrupt
    assert path.read_bytes() == b"old bytes" and list(tmp_path.iterdir()) == [path]


def test_success_replaces_keeping_the_mode_and_the_link(tmp_path):
    target = tmp_path / "song.flac"
    target.write_bytes(b"old")
    target.chmod(0o640)
    link = tmp_path / "link.flac"
    link.symlink_to(target)
    with replaced_atomically(link) as copy:
        assert copy.parent == tmp_path and copy.name.endswith(TEMP_SUFFIX) and copy.read_bytes() == b"old"
        copy.write_bytes(b"new")
    assert link.is_symlink() and target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o640 and sorted(tmp_path.iterdir()) == [link, target]


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_stop_signals_are_held_to_the_end_of_the_block(number):
    arrived = []
    previous = signal.signal(number, lambda n, frame: arrived.append(n))
    try:
        with stop_signals_held():
            os.kill(os.getpid(), number)
            with stop_signals_held():  # nested: handed to the outer guard
                os.kill(os.getpid(), number)
            assert arrived == []
        assert arrived == [number]  # delivered once, when the outer block ended
    finally:
        signal.signal(number, previous)
