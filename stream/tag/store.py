"""Where `genrescope tag` keeps its results: one SQLite row per file and model version.

A row is keyed by the file's path and the model version, and remembers the size and
modification time the file had when it was tagged: a re-run skips a file whose row
matches all four (done, or failed unless ``--retry-failed``), and re-tags one that
changed. Each result is committed as it arrives, so Ctrl-C, a crash or a power cut
loses at most the files in flight. SQLite ships with Python and one file is easy to
copy, query or delete; WAL mode lets a reader (``--export``, a user's own sqlite3)
look while a run writes.

A long file's genre segments (stream.segments.tagging) are rows of their own table, keyed
like the file's row plus the segment's start. A store written before segments existed
gains the table and a ``segmented`` column when opened; its long files (``segmented`` NULL)
are tagged again on the next run so that they get their segments.

One tagging run at a time holds a store (``held_store``): two would tag the same files,
and with ``--write`` one would rewrite files after the other had recorded them. The
lock is the kernel's (stream/outputs.py ``held_alone``), so a run that dies, even by
SIGKILL, releases it; readers take no lock.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from genrescope.model.frontend.pitch import KeyEstimate
from genrescope.stream.outputs import held_alone
from genrescope.stream.segments.smoother import Segment
from genrescope.stream.segments.tagging import SEGMENTS_FROM_SECONDS
from genrescope.stream.tag.tags import FileTags

DONE, FAILED = "done", "failed"

SCHEMA = """
CREATE TABLE IF NOT EXISTS tags (
    path TEXT NOT NULL,
    model_version TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    audio_seconds REAL NOT NULL,
    genre TEXT,
    probabilities TEXT NOT NULL,  -- JSON object genre -> probability; {} when too short
    error TEXT,
    musical_key TEXT,  -- the whole file's key in tag form ('Am', 'F#'); NULL when none
    key_confidence REAL,
    tagged_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    PRIMARY KEY (path, model_version)
);
CREATE TABLE IF NOT EXISTS segments (
    path TEXT NOT NULL,
    model_version TEXT NOT NULL,
    start_s REAL NOT NULL,
    end_s REAL NOT NULL,
    genre TEXT NOT NULL,
    mean_probability REAL NOT NULL,
    unsure INTEGER NOT NULL,  -- 1 when the mean probability is below the unsure threshold
    PRIMARY KEY (path, model_version, start_s)
);
CREATE TABLE IF NOT EXISTS models (
    model_version TEXT PRIMARY KEY,
    labels TEXT NOT NULL  -- JSON list, the model's label order
);
"""
# Columns added since the first stores were written: (name, SQL type), added on open.
# ``segmented``: 1 when the row was written by a tagger that keeps segments.
LATER_COLUMNS = (("musical_key", "TEXT"), ("key_confidence", "REAL"), ("segmented", "INTEGER"))
ROW_COLUMNS = (
    "path, model_version, size, mtime_ns, status, audio_seconds, genre, probabilities, error, "
    "tagged_at, musical_key, key_confidence"
)
SEGMENT_COLUMNS = "start_s, end_s, genre, mean_probability, unsure"


def default_db_path() -> Path:
    """``tags.sqlite`` in the user's data folder (e.g. ~/.local/share/genrescope)."""
    from platformdirs import user_data_path

    return user_data_path("genrescope") / "tags.sqlite"


@dataclass(frozen=True)
class FileKey:
    """What identifies one tagging of one file: the file as it is now, and the model."""

    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileKey:
        """The key of ``path`` now; a file that cannot be stat'ed gets size −1 (it fails
        when tagged, and is tried again once it exists)."""
        try:
            stat = path.stat()
        except OSError:
            return cls(str(path.absolute()), -1, -1)
        return cls(str(path.absolute()), stat.st_size, stat.st_mtime_ns)


@dataclass(frozen=True)
class StoredTags:
    """One row of the store."""

    path: str
    model_version: str
    size: int
    mtime_ns: int
    status: str
    audio_seconds: float
    genre: str | None
    probabilities: dict[str, float]
    error: str | None
    tagged_at: str
    musical_key: str | None = None  # tag form, 'Am'
    key_confidence: float | None = None
    segments: tuple[Segment, ...] = ()

    @property
    def key(self) -> KeyEstimate:
        """The stored whole-file key as the taggers give it."""
        return KeyEstimate.from_tag(self.musical_key, self.key_confidence or 0.0)

    def file_tags(self) -> FileTags:
        """The row as a tagging result (what a file tagged in an earlier run is worth)."""
        return FileTags(self.path, self.audio_seconds, self.probabilities, self.error, self.key, self.segments)


class TagStoreError(ValueError):
    """A --db file that is not a tag store (or cannot be opened)."""


class TagStore:
    """The SQLite file of results; a context manager that closes it."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)
            self._add_later_columns()
        except (sqlite3.DatabaseError, OSError) as error:
            raise TagStoreError(f"{self.path}: not a genrescope tag store ({error})") from error

    def _add_later_columns(self) -> None:
        """Bring a store written by an older genrescope up to the current columns."""
        present = {row[1] for row in self._db.execute("PRAGMA table_info(tags)")}
        with self._db:
            for name, kind in LATER_COLUMNS:
                if name not in present:
                    self._db.execute(f"ALTER TABLE tags ADD COLUMN {name} {kind}")

    def __enter__(self) -> TagStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def register_model(self, version: str, labels: Iterable[str]) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO models VALUES (?, ?)", (version, json.dumps(list(labels))))

    def labels(self, version: str) -> list[str]:
        row = self._db.execute("SELECT labels FROM models WHERE model_version = ?", (version,)).fetchone()
        return json.loads(row[0]) if row else []

    def statuses(self, keys: Iterable[FileKey], version: str) -> dict[FileKey, str]:
        """The stored status of each key that matches a row exactly (size and mtime too)."""
        rows = self._db.execute(
            "SELECT path, size, mtime_ns, status FROM tags WHERE model_version = ? "
            "AND NOT (status = 'done' AND segmented IS NULL AND audio_seconds >= ?)",  # stored before segments
            (version, SEGMENTS_FROM_SECONDS),
        )
        stored = {FileKey(path, size, mtime): status for path, size, mtime, status in rows}
        return {key: stored[key] for key in keys if key in stored}

    def put(self, key: FileKey, version: str, tags: FileTags) -> None:
        """Record one result now (its own transaction: nothing finished is lost)."""
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO tags (path, model_version, size, mtime_ns, status, audio_seconds, genre, "
                "probabilities, error, musical_key, key_confidence, segmented) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
                (
                    key.path,
                    version,
                    key.size,
                    key.mtime_ns,
                    FAILED if tags.error else DONE,
                    tags.audio_seconds,
                    tags.genre,
                    json.dumps(tags.probabilities),
                    tags.error,
                    tags.key.tag,
                    round(tags.key.confidence, 3) if tags.key.key else None,
                ),
            )
            self._db.execute("DELETE FROM segments WHERE path = ? AND model_version = ?", (key.path, version))
            self._db.executemany(
                f"INSERT INTO segments (path, model_version, {SEGMENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (key.path, version, s.start_s, s.end_s, s.genre, s.mean_probability, int(s.unsure))
                    for s in tags.segments
                ],
            )

    def get(self, key: FileKey, version: str) -> StoredTags | None:
        """The row of ``key`` if it matches the file as it is now (size and mtime)."""
        rows = self.rows(version, key.path)
        return next((row for row in rows if (row.size, row.mtime_ns) == (key.size, key.mtime_ns)), None)

    def rows(self, version: str | None = None, path: str | None = None) -> Iterator[StoredTags]:
        """Every row (of one model version, of one path), by path, with its segments."""
        where = {"model_version": version, "path": path}
        conditions = [f"{column} = ?" for column, value in where.items() if value is not None]
        clause = " WHERE " + " AND ".join(conditions) if conditions else ""
        values = [value for value in where.values() if value is not None]
        segments = self._segments(clause, values)
        for row in self._db.execute(f"SELECT {ROW_COLUMNS} FROM tags{clause} ORDER BY path, model_version", values):
            yield StoredTags(*row[:7], json.loads(row[7]), *row[8:], segments=segments.get((row[0], row[1]), ()))

    def _segments(self, clause: str, values: list) -> dict[tuple[str, str], tuple[Segment, ...]]:
        """The segments of the rows ``clause`` selects, by (path, model version), in time order."""
        found: dict[tuple[str, str], list[Segment]] = {}
        query = f"SELECT path, model_version, {SEGMENT_COLUMNS} FROM segments{clause} ORDER BY start_s"
        for path, version, start, end, genre, probability, unsure in self._db.execute(query, values):
            found.setdefault((path, version), []).append(Segment(start, end, genre, probability, bool(unsure)))
        return {key: tuple(segments) for key, segments in found.items()}


def held_store(path: Path) -> AbstractContextManager[None]:
    """The store held by this tagging run until the block ends (module docstring)."""
    return held_alone(path, "`genrescope tag` run", "wait for it to end, or give this run its own --db")


def open_store(path: Path | None) -> TagStore:
    """The store at ``path``, or at the default place; ``$GENRESCOPE_TAG_DB`` overrides
    the default (tests, and users who keep it elsewhere)."""
    return TagStore(path or Path(os.environ.get("GENRESCOPE_TAG_DB") or default_db_path()))
