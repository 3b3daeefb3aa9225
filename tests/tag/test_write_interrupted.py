"""`genrescope tag --write` stopped at many moments by real SIGINT and SIGTERM, on large
real audio files whose tags must grow (no padding): every file must afterwards decode
completely to the same audio, be either its old bytes or fully tagged, and the store
must agree with it (its row's size and mtime are the file's).

A run writes results from the store (the files were tagged before), without a model
run. The delays count from the moment the first write shows in the folder (a file
changes size, or a new file appears beside them: whichever way the writer works), and
a loop of them, spread over the time one unsignalled run took from there to its last
file, lands signals inside and between the writes of each file."""

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time

import mutagen
import pytest
from mutagen.flac import FLAC
from mutagen.id3 import ID3

from genrescope.stream.tag.atomic_replace import TEMP_SUFFIX
from genrescope.stream.tag.store import FileKey, TagStore
from genrescope.stream.tag.tags import FileTags
from support import REPO

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")

VERSION = "test-random-weights"  # the test model's
PROBABILITIES = {"Rock": 0.41, "Pop": 0.33, "Folk": 0.26}
MEGABYTES = 60  # each file: large enough that moving its audio takes a while
DELAYS = 6  # per signal


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
        [
            sys.executable,
            "-m",
            "genrescope.stream.cli",
            "tag",
            str(folder),
            "--write",
            "--db",
            str(db),
            "--model",
            str(test_model_path),
            "--jobs",
            "1",
        ],
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


def _check_library(originals, folder, db, decoded):
    """Every file old or fully tagged, decoding to the same audio; the store agreeing."""
    with TagStore(db) as store:
        stored = {row.path: row for row in store.rows(VERSION)}
    for name, (data, audio_md5) in originals.items():
        path = folder / name
        current = path.read_bytes()
        digest = hashlib.sha256(current).hexdigest()
        if current != data:
            assert _fully_tagged(path), f"{name}: neither its old bytes nor fully tagged ({len(current)} bytes)"
        if digest not in decoded:  # each distinct content decoded once
            decoded[digest] = _decoded_md5(path)
        assert decoded[digest] == audio_md5, f"{name}: its audio changed"
        key = FileKey.of(path)
        assert (stored[key.path].size, stored[key.path].mtime_ns) == (key.size, key.mtime_ns), (
            f"{name}: the store's row does not match the file"
        )
    assert not list(folder.glob(f"*{TEMP_SUFFIX}")), "a temporary copy was left behind"


def _writing_started(process, folder, originals):
    """Wait until the run's first write shows in ``folder`` (or the run ended); the time
    (of day) it did. A busy wait: a write lasts a fraction of a second, and on a loaded
    machine a sleep may not come back in time."""
    sizes = {name: len(data) for name, (data, _) in originals.items()}
    while process.poll() is None:
        with os.scandir(folder) as entries:
            if any(entry.name not in sizes or sizes[entry.name] != entry.stat().st_size for entry in entries):
                break  # a new file (a copy being written) or one whose size changed
    return time.time()


def test_stopped_writes_leave_old_or_whole_files_and_an_agreeing_store(originals, test_model_path, tmp_path):
    decoded: dict[str, str] = {}
    folder, db = tmp_path / "calibration", tmp_path / "calibration.sqlite"
    _library(originals, folder, db)
    whole = _run_write(test_model_path, folder, db)
    started = _writing_started(whole, folder, originals)
    _, err = whole.communicate(timeout=300)
    assert f"wrote tags into {len(originals)} files" in err, err
    writing = max(path.stat().st_mtime for path in folder.iterdir()) - started
    _check_library(originals, folder, db, decoded)
    outcomes = {}
    for number in (signal.SIGINT, signal.SIGTERM):
        for step in range(DELAYS):
            delay = writing * 1.2 * step / (DELAYS - 1)
            trial = tmp_path / f"{number.name}-{step}"
            _library(originals, trial, trial.with_suffix(".sqlite"))
            process = _run_write(test_model_path, trial, trial.with_suffix(".sqlite"))
            late = time.time() - _writing_started(process, trial, originals)
            if delay > late:
                time.sleep(delay - late)
            process.send_signal(number)
            _, err = process.communicate(timeout=300)
            # ended by the signal itself (-number) only before the run began: Python still importing
            assert process.returncode == -number or (
                process.returncode in (0, 128 + number) and "Traceback" not in err
            ), err
            _check_library(originals, trial, trial.with_suffix(".sqlite"), decoded)
            written = sum((trial / name).read_bytes() != data for name, (data, _) in originals.items())
            outcomes[f"{number.name} at {delay:.2f} s"] = written
            shutil.rmtree(trial)
    # Known gap (see the branch's report): on a loaded 2-core machine the signals have so far
    # always landed after the writes, so whether a trial stopped a run part-way is shown, not
    # asserted; every trial's files and store are checked above all the same.
    print(f"writing took {writing:.2f} s; files written per trial: {outcomes}")
