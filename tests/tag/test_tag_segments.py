"""`genrescope tag` keeps the genre segments of long files: in its store (a table keyed like
the file rows, added to older stores), in `--jsonl`, and in every `--export` format."""

from __future__ import annotations

import csv
import itertools
import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from genrescope.stream.segments import Segment
from genrescope.stream.segments.tagging import SEGMENTS_FROM_SECONDS
from genrescope.stream.tag.export import segments_csv_path
from genrescope.stream.tag.store import FileKey, TagStore
from genrescope.stream.tag.tags import FileTags
from support import run_cli

MIX_SEGMENTS = (Segment(0.0, 312.5, "Hip-Hop", 0.71, False), Segment(312.5, 1500.0, "Rock", 0.35, True))


def test_segments_round_trip_through_the_store_and_a_retag_replaces_them(tmp_path):
    key = FileKey("/mix.mp3", 10, 20)
    with TagStore(tmp_path / "tags.sqlite") as store:
        store.put(key, "v1", FileTags("/mix.mp3", 1500.0, {"Rock": 0.6, "Hip-Hop": 0.4}, segments=MIX_SEGMENTS))
        store.put(FileKey("/song.mp3", 1, 2), "v1", FileTags("/song.mp3", 200.0, {"Rock": 1.0}))
        assert store.get(key, "v1").segments == MIX_SEGMENTS
        assert store.get(key, "v1").file_tags().segments == MIX_SEGMENTS
        assert {row.path: row.segments for row in store.rows()} == {"/mix.mp3": MIX_SEGMENTS, "/song.mp3": ()}
        store.put(key, "v1", FileTags("/mix.mp3", 1500.0, {"Rock": 1.0}, segments=MIX_SEGMENTS[1:]))
        assert store.get(key, "v1").segments == MIX_SEGMENTS[1:]  # nothing left of the first tagging


def test_a_store_from_before_segments_gains_the_table_and_retags_only_its_long_files(tmp_path):
    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as connection:
        connection.executescript("""
            CREATE TABLE tags (path TEXT NOT NULL, model_version TEXT NOT NULL, size INTEGER NOT NULL,
                mtime_ns INTEGER NOT NULL, status TEXT NOT NULL, audio_seconds REAL NOT NULL, genre TEXT,
                probabilities TEXT NOT NULL, error TEXT, musical_key TEXT, key_confidence REAL,
                tagged_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
                PRIMARY KEY (path, model_version));
            CREATE TABLE models (model_version TEXT PRIMARY KEY, labels TEXT NOT NULL);
            INSERT INTO tags (path, model_version, size, mtime_ns, status, audio_seconds, genre, probabilities)
                VALUES ('/song.mp3', 'v1', 1, 2, 'done', 200.0, 'Rock', '{"Rock": 1.0}'),
                       ('/mix.mp3', 'v1', 10, 20, 'done', 1500.0, 'Rock', '{"Rock": 1.0}');""")
    song, mix = FileKey("/song.mp3", 1, 2), FileKey("/mix.mp3", 10, 20)
    with TagStore(db) as store:
        assert store.statuses([song, mix], "v1") == {song: "done"}  # the mix is tagged again, for its segments
        assert store.get(mix, "v1").segments == ()
        store.put(mix, "v1", FileTags("/mix.mp3", 1500.0, {"Rock": 1.0}, segments=MIX_SEGMENTS))
        assert store.statuses([song, mix], "v1") == {song: "done", mix: "done"}
        assert store.get(mix, "v1").segments == MIX_SEGMENTS


@pytest.fixture(scope="module")
def long_mix(music_clips: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real clips end to end, again and again, past the segment threshold: a DJ mix's length."""
    folder = tmp_path_factory.mktemp("long")
    repeats = int(SEGMENTS_FROM_SECONDS // (29 * len(music_clips))) + 1
    listing = folder / "clips.txt"
    listing.write_text("".join(f"file '{clip}'\n" for clip in music_clips * repeats))
    path = folder / "mix.mp3"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(path)], check=True
    )
    return path


@pytest.fixture(scope="module")
def tagged(long_mix: Path, music_clips: list[Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A real `genrescope tag` (the shipped model) of the long mix and of one short clip."""
    folder = tmp_path_factory.mktemp("tagged")
    db, jsonl = folder / "tags.sqlite", folder / "run.jsonl"
    done = run_cli(
        "tag", str(long_mix), str(music_clips[0]), "--db", str(db), "--jobs", "1", "--jsonl", str(jsonl), timeout=600
    )
    assert done.returncode == 0, done.stderr
    with TagStore(db) as store:
        rows = {row.path: row for row in store.rows()}
    return {"db": db, "folder": folder, "rows": rows, "jsonl": [json.loads(x) for x in jsonl.read_text().splitlines()]}


def test_tag_keeps_segments_of_the_long_file_only(tagged, long_mix, music_clips):
    mix, clip = tagged["rows"][str(long_mix.absolute())], tagged["rows"][str(music_clips[0].absolute())]
    assert mix.audio_seconds >= SEGMENTS_FROM_SECONDS and clip.segments == ()
    assert mix.segments[0].start_s == 0 and mix.segments[-1].end_s == pytest.approx(mix.audio_seconds)
    for before, after in itertools.pairwise(mix.segments):
        assert before.end_s == after.start_s and before.genre != after.genre
    by_path = {line["path"]: line for line in tagged["jsonl"]}
    assert by_path[str(long_mix.absolute())]["segments"] == [s.to_json() for s in mix.segments]
    assert by_path[str(music_clips[0].absolute())]["segments"] == []


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_every_export_carries_the_segments(tagged, long_mix, suffix):
    out = tagged["folder"] / f"export{suffix}"
    done = run_cli("tag", "--export", str(out), "--db", str(tagged["db"]))
    assert done.returncode == 0, done.stderr
    path = str(long_mix.absolute())
    expected = [s.to_json() for s in tagged["rows"][path].segments]
    if suffix == ".jsonl":
        lines = {line["path"]: line for line in map(json.loads, out.read_text().splitlines())}
        exported = lines[path]["segments"]
    elif suffix == ".csv":
        rows = list(csv.DictReader(segments_csv_path(out).read_text().splitlines()))
        exported = [
            {
                "start_s": float(r["start_s"]),
                "end_s": float(r["end_s"]),
                "genre": r["genre"],
                "mean_probability": float(r["mean_probability"]),
                "unsure": r["unsure"] == "True",
            }
            for r in rows
            if r["path"] == path
        ]
        assert {r["path"] for r in rows} == {path}  # the short clip has none
    else:
        parquet = pytest.importorskip("pyarrow.parquet")
        table = parquet.read_table(out).to_pylist()
        exported = next(row["segments"] for row in table if row["path"] == path)
    assert exported == expected and len(expected) >= 1
