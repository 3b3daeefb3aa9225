"""`genrescope tag --write` stopped inside its writes by real SIGINT and SIGTERM, on large
real audio files whose tags must grow (no padding): every file must afterwards decode
completely to the same audio, be either its old bytes or its fully tagged bytes, and the
store must agree with it (its row's size and mtime are the file's).

A run writes results from the store (the files were tagged before), without a model run.
Where a signal lands is not left to chance, as a sleep on a loaded machine would leave
it: the test watches the folder, freezes the run (SIGSTOP) the moment a file's write
shows (the file changes size or inode, or a new file named after it appears: whichever
way the writer works), lets it run a few milliseconds more in some trials, freezes it
again and checks that the folder is mid-write (a copy beside the file, or a file that is
neither its old nor its final bytes). Only then is the signal sent and the run let go
(SIGCONT), so the signal arrives inside the write: of the first file, then of the second.
Before writes went through a copy, this left an MP3 with its audio half-moved and no
ID3 header (SIGTERM), or the same through the unguarded stored-results path (SIGINT)."""

import hashlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import mutagen
import pytest
from mutagen.flac import FLAC
from mutagen.id3 import ID3

from genrescope.stream.tag.store import FileKey, TagStore
from genrescope.stream.tag.tags import FileTags
from support import REPO, tag_write_command

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")

VERSION = "test-random-weights"  # the test model's
PROBABILITIES = {"Rock": 0.41, "Pop": 0.33, "Folk": 0.26}
MEGABYTES = 60  # each file: large enough that moving its audio takes a while
RUN_ON_MS = (0, 5, 15)  # how long a frozen run goes on before it is frozen again and signalled
ATTEMPTS = 3  # a trial whose freeze came after the write (a descheduled watcher) is tried again


def _ffmpeg(*args: str) -> None:
    subprocess.run(["nice", "-n", "10", "ffmpeg", "-v", "error", "-y", *args], check=True)


def _without_padding(path):
    """Tags with no room to grow: any new tag makes mutagen move the whole audio."""
    if path.suffix == ".flac":
        FLAC(path).save(padding=lambda info: 0)
    else:
        ID3(path).save(padding=lambda info: 0)


@pytest.fixture(scope="module")
def originals(music_clips, tmp_path_factory):
    """A ≈60 MB MP3 (320 kb/s frames of a real clip, repeated) and a ≈60 MB FLAC, each
    with a title and no tag padding."""
    folder = tmp_path_factory.mktemp("large")
    made = []
    for number, clip in enumerate(music_clips[:1]):
        unit = folder / f"unit{number}.mp3"
        _ffmpeg("-i", str(clip), "-map", "0:a", "-c:a", "libmp3lame", "-b:a", "320k", str(unit))
        loops = MEGABYTES * 2**20 // unit.stat().st_size
        made.append(folder / f"a-song{number}.mp3")
        _ffmpeg(
            "-stream_loop",
            str(loops),
            "-i",
            str(unit),
            "-map",
            "0:a",
            "-c:a",
            "copy",
            "-metadata",
            f"title=Song {number}",
            str(made[-1]),
        )
        unit.unlink()
    seconds = MEGABYTES * 2**20 * 8 // 1_411_200 + 1  # FLAC of CD audio: at most 1,411 kb/s
    made.append(folder / "b-song.flac")  # written second: the run goes through the files in name order
    _ffmpeg(
        "-stream_loop",
        "-1",
        "-i",
        str(music_clips[0]),
        "-t",
        str(seconds),
        "-map",
        "0:a",
        "-af",
        "aresample=44100",
        "-ac",
        "2",
        "-c:a",
        "flac",
        "-metadata",
        "title=Long",
        str(made[-1]),
    )
    for path in made:
        _without_padding(path)
    return {path.name: (path.read_bytes(), _decoded_md5(path)) for path in made}


def _decoded_md5(path):
    """The MD5 of the whole decoded audio; fails on any decoding error."""
    result = subprocess.run(
        ["nice", "-n", "10", "ffmpeg", "-v", "error", "-xerror", "-i", str(path), "-map", "0:a", "-f", "md5", "-"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and not result.stderr, f"{path.name} does not decode: {result.stderr[-500:]}"
    return result.stdout.strip()


def _library(originals, folder, db):
    """The files as they were, each already tagged in the store (so --write writes from it)."""
    folder.mkdir()
    with TagStore(db) as store:
        for name, (data, _) in originals.items():
            path = folder / name
            path.write_bytes(data)
            store.put(FileKey.of(path), VERSION, FileTags(str(path.absolute()), 60.0, PROBABILITIES))


def _run_write(test_model_path, folder, db):
    return subprocess.Popen(
        tag_write_command(test_model_path, folder, db),
        cwd=REPO,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _fully_tagged(path):
    tags = mutagen.File(path).tags
    model = tags.get("TXXX:GENRESCOPE_MODEL") or tags.get("GENRESCOPE_MODEL")
    return model is not None and VERSION in str(model)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _mid_write(folder: Path, contents: dict[str, set[bytes]]) -> bool:
    """Whether the folder is between two states a user may see: a file that is not one
    of the library's (a copy being written), or one neither its old nor its final bytes."""
    present = {path.name: path for path in folder.iterdir()}
    if set(present) != set(contents):
        return True
    return any(present[name].read_bytes() not in states for name, states in contents.items())


def _check_library(originals, finals, folder, db, decoded):
    """Every file its old or its final bytes, decoding to the same audio; nothing else in
    the folder; the store agreeing with the files."""
    with TagStore(db) as store:
        stored = {row.path: row for row in store.rows(VERSION)}
    assert sorted(path.name for path in folder.iterdir()) == sorted(originals), "a temporary copy was left behind"
    for name, (data, audio_md5) in originals.items():
        path = folder / name
        digest = _sha256(path.read_bytes())
        assert digest in (_sha256(data), _sha256(finals[name])), (
            f"{name}: neither its old bytes nor fully tagged ({path.stat().st_size} bytes)"
        )
        if digest not in decoded:  # each distinct content decoded once
            decoded[digest] = _decoded_md5(path)
        assert decoded[digest] == audio_md5, f"{name}: its audio changed"
        key = FileKey.of(path)
        assert (stored[key.path].size, stored[key.path].mtime_ns) == (key.size, key.mtime_ns), (
            f"{name}: the store's row does not match the file"
        )


def _write_shows(process, folder: Path, name: str) -> bool:
    """Busy-wait until ``name``'s write shows in ``folder``; whether it did before the run
    ended. A busy wait: a write lasts a fraction of a second, a sleep may come back late."""
    before = os.stat(folder / name)
    while process.poll() is None:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name == name:
                    now = entry.stat()
                    if (now.st_size, now.st_ino) != (before.st_size, before.st_ino):
                        return True
                elif name in entry.name:  # a new file named after it: its copy
                    return True
    return False


def _freeze(process) -> None:
    """SIGSTOP, and wait until the kernel says the process is stopped."""
    process.send_signal(signal.SIGSTOP)
    stat = Path(f"/proc/{process.pid}/stat")
    while stat.read_text().rsplit(")", 1)[1].split()[0] not in ("T", "t"):
        time.sleep(0.0005)


def _signal_inside_write(test_model_path, originals, contents, folder, db, target, run_on_ms, number):
    """One run frozen inside ``target``'s write and sent ``number`` there: whether the
    freeze really was mid-write (else the trial proved nothing and is tried again), and
    the ended run."""
    _library(originals, folder, db)
    process = _run_write(test_model_path, folder, db)
    try:
        assert _write_shows(process, folder, target), f"the run ended before writing {target}"
        _freeze(process)
        if run_on_ms:
            process.send_signal(signal.SIGCONT)
            time.sleep(run_on_ms / 1e3)
            _freeze(process)
        inside = _mid_write(folder, contents)
        process.send_signal(number)
    finally:
        process.send_signal(signal.SIGCONT)
        _, err = process.communicate(timeout=300)
    return inside, process.returncode, err


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signals_inside_writes_leave_old_or_whole_files_and_an_agreeing_store(
    number, originals, test_model_path, tmp_path
):
    decoded: dict[str, str] = {}
    folder, db = tmp_path / "whole", tmp_path / "whole.sqlite"
    _library(originals, folder, db)
    whole = _run_write(test_model_path, folder, db)
    _, err = whole.communicate(timeout=300)
    assert f"wrote tags into {len(originals)} files" in err, err
    finals = {name: (folder / name).read_bytes() for name in originals}
    assert all(_fully_tagged(folder / name) and finals[name] != data for name, (data, _) in originals.items())
    _check_library(originals, finals, folder, db, decoded)
    contents = {name: {data, finals[name]} for name, (data, _) in originals.items()}
    for target in sorted(originals):  # the run writes in name order: the MP3, then the FLAC
        for run_on_ms in RUN_ON_MS:
            trial = tmp_path / f"{target}-{run_on_ms}"
            for _ in range(ATTEMPTS):
                shutil.rmtree(trial, ignore_errors=True)
                inside, returncode, err = _signal_inside_write(
                    test_model_path, originals, contents, trial, trial.with_suffix(".sqlite"), target, run_on_ms, number
                )
                _check_library(originals, finals, trial, trial.with_suffix(".sqlite"), decoded)
                # stopped by the signal as a clean stop, or done before it acted (the last write)
                assert returncode in (0, 128 + number) and "Traceback" not in err, err
                trial.with_suffix(".sqlite").unlink()
                if inside:
                    break
            assert inside, f"{number.name} after {target}'s write began + {run_on_ms} ms: never frozen mid-write"
            shutil.rmtree(trial)
