"""The real `genrescope tag` against its SQLite store: resume, retry, a changed file,
Ctrl-C keeping what finished, exports, and --write through the CLI."""

import csv
import json
import os
import shutil
import signal
import sqlite3
import subprocess

import mutagen
import pytest

from genrescope.stream.tag.export import EXPORT_FORMAT
from genrescope.stream.tag.store import FileKey, TagStore
from support import REPO, cli_command, run_cli, write_tone


@pytest.fixture
def library(tmp_path):
    """Three short tones and one broken file."""
    folder = tmp_path / "library"
    folder.mkdir()
    for i, frequency in enumerate((220.0, 440.0, 880.0)):
        write_tone(folder / f"tone{i}.flac", 3.0, frequency=frequency)
    (folder / "broken.mp3").write_bytes(b"ID3 this is not an mp3 at all")
    return folder


def tag(test_model_path, db, *args, timeout=300):
    return run_cli("tag", *args, "--db", str(db), "--model", str(test_model_path), "--jobs", "2", timeout=timeout)


def rows(db):
    with TagStore(db) as store:
        return {row.path: row for row in store.rows()}


def test_resume_skips_done_and_retries_failed_only_when_asked(test_model_path, library, tmp_path):
    db = tmp_path / "tags.sqlite"
    first = tag(test_model_path, db, str(library))
    assert first.returncode == 1 and "Traceback" not in first.stderr, first.stderr
    assert "tagging: 4/4 files" in first.stderr and "audio-h/s" in first.stderr  # plain progress: not a terminal
    stored = rows(db)
    assert len(stored) == 4 and [r.status for r in stored.values()].count("failed") == 1
    assert all(r.model_version == "test-random-weights" for r in stored.values())
    again = tag(test_model_path, db, str(library))
    assert again.returncode == 1 and again.stdout.strip() == ""  # nothing tagged twice
    assert "skipping 3 files already tagged, 1 that failed before" in again.stderr
    (library / "broken.mp3").unlink()
    write_tone(library / "broken.mp3", 2.0)  # FLAC data: FFmpeg reads it whatever the suffix
    write_tone(library / "tone0.flac", 4.0)  # changed: tagged again
    retried = tag(test_model_path, db, str(library), "--retry-failed")
    assert retried.returncode == 0, retried.stderr
    assert sorted(line.split()[-1] for line in retried.stdout.splitlines()) == sorted(
        [str(library / "broken.mp3"), str(library / "tone0.flac")]
    )
    stored = rows(db)
    assert {r.status for r in stored.values()} == {"done"}
    assert stored[str(library / "tone0.flac")].audio_seconds == pytest.approx(4.0, abs=0.05)
    assert stored[str(library / "tone0.flac")].size == FileKey.of(library / "tone0.flac").size


def test_a_rerun_writes_every_named_file_to_jsonl_the_stored_ones_marked(test_model_path, library, tmp_path):
    """A second `tag DIR --jsonl OUT` wrote an empty OUT (every file already in the store):
    the stored results go there too, marked "from_store", equal to the first run's lines."""
    db, first_out, again_out = tmp_path / "tags.sqlite", tmp_path / "first.jsonl", tmp_path / "again.jsonl"
    tag(test_model_path, db, str(library), "--jsonl", str(first_out))
    (library / "tone2.flac").unlink()
    write_tone(library / "tone2.flac", 2.0, frequency=660.0)  # changed since: tagged anew
    again = tag(test_model_path, db, str(library), "--jsonl", str(again_out))
    assert again.returncode == 1 and "Traceback" not in again.stderr  # broken.mp3 failed before
    first = {line["path"]: line for line in map(json.loads, first_out.read_text().splitlines())}
    lines = {line["path"]: line for line in map(json.loads, again_out.read_text().splitlines())}
    assert sorted(lines) == sorted(str(path) for path in library.iterdir())
    assert {path for path, line in lines.items() if not line["from_store"]} == {str(library / "tone2.flac")}
    for path in ("tone0.flac", "tone1.flac", "broken.mp3"):
        assert lines[str(library / path)] == {**first[str(library / path)], "from_store": True}
    assert lines[str(library / "broken.mp3")]["error"]


def test_exports(test_model_path, library, tmp_path):
    db = tmp_path / "tags.sqlite"
    assert tag(test_model_path, db, str(library)).returncode == 1
    out = tmp_path / "out.jsonl"
    exported = run_cli("tag", "--export", str(out), "--db", str(db))
    assert exported.returncode == 0 and "exported 4 rows" in exported.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    good = [line for line in lines if line["status"] == "done"]
    assert len(good) == 3 and all(line["format"] == EXPORT_FORMAT for line in lines)
    for line in good:
        assert line["model_version"] == "test-random-weights" and len(line["labels"]) == 8
        assert line["genre"] == max(line["probabilities"], key=line["probabilities"].get)
    assert run_cli("tag", "--export", str(tmp_path / "out.csv"), "--db", str(db)).returncode == 0
    table = list(csv.DictReader((tmp_path / "out.csv").read_text().splitlines()))
    assert len(table) == 4
    assert {row["genre"] for row in table} == {line["genre"] or "" for line in lines}
    assert float(table[0][lines[0]["labels"][0]] or 0) >= 0
    pyarrow = pytest.importorskip("pyarrow.parquet")
    assert run_cli("tag", "--export", str(tmp_path / "out.parquet"), "--db", str(db)).returncode == 0
    assert pyarrow.read_table(tmp_path / "out.parquet").num_rows == 4


def test_the_key_is_stored_exported_and_written_from_the_store(test_model_path, library, tmp_path):
    db = tmp_path / "tags.sqlite"
    tag(test_model_path, db, str(library))
    tone = str(library / "tone1.flac")  # 440 Hz: pitch class A
    stored = rows(db)[tone]
    assert stored.musical_key and stored.key.key.tonic == 9 and 0 < stored.key_confidence <= 1
    out = tmp_path / "out.jsonl"
    assert run_cli("tag", "--export", str(out), "--db", str(db)).returncode == 0
    line = next(json.loads(x) for x in out.read_text().splitlines() if json.loads(x)["path"] == tone)
    assert (line["key"], line["key_tag"], line["key_confidence"]) == (
        stored.key.name,
        stored.musical_key,
        stored.key_confidence,
    )
    written = tag(test_model_path, db, tone, "--write", "--min-confidence", "0")
    assert written.returncode == 0 and written.stdout.strip() == ""  # from the store: no model run
    assert mutagen.File(tone).tags["KEY"] == [stored.musical_key]


def test_a_store_from_before_keys_opens_and_gains_them(tmp_path):
    """A store written before keys were kept: its rows still read, and new ones keep keys."""
    from genrescope.model.frontend.pitch import NO_KEY, Key, KeyEstimate
    from genrescope.stream.tag.tags import FileTags

    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as connection:
        connection.executescript("""
            CREATE TABLE tags (path TEXT NOT NULL, model_version TEXT NOT NULL, size INTEGER NOT NULL,
                mtime_ns INTEGER NOT NULL, status TEXT NOT NULL, audio_seconds REAL NOT NULL, genre TEXT,
                probabilities TEXT NOT NULL, error TEXT,
                tagged_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
                PRIMARY KEY (path, model_version));
            INSERT INTO tags (path, model_version, size, mtime_ns, status, audio_seconds, genre, probabilities)
                VALUES ('/old.mp3', 'v1', 10, 20, 'done', 30.0, 'Rock', '{"Rock": 1.0}');""")
    with TagStore(db) as store:
        (old,) = store.rows()
        assert (old.genre, old.key) == ("Rock", NO_KEY)
        key = KeyEstimate(Key.from_tag("F#m"), 0.75)
        store.put(FileKey("/new.mp3", 1, 2), "v1", FileTags("/new.mp3", 3.0, {"Rock": 1.0}, key=key))
        assert store.get(FileKey("/new.mp3", 1, 2), "v1").key == key


@pytest.mark.parametrize(
    "args, message",
    [
        ((), "name files or folders to tag"),
        (("--export", "out.xlsx"), "export to .jsonl, .csv, .parquet"),
        (("x", "--min-confidence", "1.5"), "argument --min-confidence: must be a number ≥ 0 and ≤ 1"),
        (("x", "--jobs", "0"), "argument --jobs: must be an integer ≥ 1"),
        (("x", "--address", "auto"), "--address is for --engine ray"),
    ],
)
def test_usage_errors_exit_2(args, message, tmp_path):
    result = run_cli("tag", *args, "--db", str(tmp_path / "t.sqlite"))
    assert result.returncode == 2 and result.stderr.startswith("genrescope: error: ") and message in result.stderr


def test_a_file_that_is_not_a_store(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_text("not a database at all " * 100)
    result = run_cli("tag", "--export", str(tmp_path / "o.jsonl"), "--db", str(bad))
    assert result.returncode == 2 and "not a genrescope tag store" in result.stderr


def test_ctrl_c_keeps_finished_files_and_a_rerun_goes_on(test_model_path, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    # enough audio that the run is far from done when the interrupt lands: tagging runs at
    # hundreds of times real time, so 120 files of 40 s (small at 8 kHz)
    for i in range(120):
        write_tone(folder / f"t{i:03d}.wav", 40.0, rate=8_000, frequency=200.0 + 5 * i)
    db = tmp_path / "tags.sqlite"
    process = subprocess.Popen(
        cli_command(
            "tag",
            str(folder),
            "--db",
            str(db),
            "--model",
            str(test_model_path),
            "--jobs",
            "2",
        ),
        cwd=REPO,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_interruptible,
    )
    shown = [process.stdout.readline() for _ in range(3)]  # each line is printed once its row is committed
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130 and "Traceback" not in err, err
    kept = _count(db)
    assert 3 <= kept < 120 and "every finished file is in the store" in err
    assert len(shown + out.splitlines()) == kept  # every result shown was stored, and only those
    rerun = tag(test_model_path, db, str(folder), timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert f"skipping {kept} files already tagged" in rerun.stderr
    assert len(rerun.stdout.splitlines()) == 120 - kept and _count(db) == 120


def _interruptible() -> None:
    """Ctrl-C reaches the child even when the test run itself was started in the background
    (``cmd &`` in a script ignores SIGINT, and a child would inherit that and keep it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _count(db):
    with sqlite3.connect(db) as connection:
        try:
            return connection.execute("SELECT count(*) FROM tags").fetchone()[0]
        except sqlite3.OperationalError:  # the schema is not there yet
            return 0


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_write_through_the_cli_and_rewrite_from_the_store(test_model_path, tmp_path):
    folder = tmp_path / "w"
    folder.mkdir()
    song = folder / "song.mp3"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=duration=3", "-metadata", "genre=Jazz", str(song)],
        check=True,
    )
    db = tmp_path / "tags.sqlite"
    first = tag(test_model_path, db, str(folder), "--write", "--min-confidence", "0")
    assert first.returncode == 0 and "1 kept their own genre" in first.stderr, first.stderr
    assert mutagen.File(str(song)).tags["TXXX:GENRESCOPE_MODEL"].text == ["test-random-weights"]
    assert mutagen.File(str(song)).tags["TCON"].text == ["Jazz"]
    forced = tag(test_model_path, db, str(folder), "--write", "--force", "--min-confidence", "0")
    assert forced.returncode == 0 and forced.stdout.strip() == ""  # from the store: no model run
    genres = mutagen.File(str(song)).tags["TCON"].text
    assert len(genres) == 8 and genres[0] == rows(db)[str(song)].genre  # every genre, most likely first
    assert rows(db)[str(song)].mtime_ns == os.stat(song).st_mtime_ns  # the store follows the rewritten file
    assert "skipping 1 files already tagged" in tag(test_model_path, db, str(folder)).stderr


def test_progress_bar_on_a_terminal(test_model_path, tmp_path):
    """On a terminal (a real pseudo-terminal here) the bar shows files/s and audio-h/s."""
    import pty

    folder = tmp_path / "two"
    folder.mkdir()
    for i in range(2):
        write_tone(folder / f"t{i}.wav", 2.0, frequency=300.0 + 100 * i)
    parent, child = pty.openpty()
    process = subprocess.Popen(
        cli_command(
            "tag",
            str(folder),
            "--db",
            str(tmp_path / "t.sqlite"),
            "--model",
            str(test_model_path),
            "--jobs",
            "1",
        ),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=child,
        env={**os.environ, "COLUMNS": "160"},
    )
    os.close(child)
    screen = b""
    while True:
        try:
            data = os.read(parent, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        screen += data
    assert process.wait(timeout=300) == 0
    text = screen.decode(errors="replace")
    assert "files/s" in text and "audio-h/s" in text and "\x1b[" in text  # drawn, not printed
    assert "tagging: 2/2 files" not in text  # the plain line is for pipes and logs
