"""The airplay log: a SQLite file of every stream's genre segments, kept across restarts.

One row per finished segment per stream (``segments``), and per stream the segment still
running (``open_segments``), rewritten at each checkpoint. Each write is its own
transaction in WAL mode, so a process killed at any moment (SIGKILL, a power cut of the
process, not of the disk) leaves every finished segment and the last checkpoint; the next
run closes that checkpoint into ``segments`` (``ended_by = 'restart'``) before it logs
anything new. Readers (``genrescope report``) may read while a server writes.

Times are Unix seconds (UTC). ``ended_by`` says why a segment ended: ``genre`` (the next
one began), ``stop`` (the stream or the server stopped), ``gap`` (the stream broke off:
a reconnect, a lost device) or ``restart`` (the server died; the end is its last
checkpoint).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from genrescope.stream.segments.smoother import Segment

FORMAT_VERSION = "1"
# At most this much of a running segment is lost when the server is killed. 5 s costs one
# small transaction per stream every 5 s (17,280 a stream-day) and keeps a crash's loss
# well below the shortest segment the smoother makes (SegmentConfig.min_duration_s).
CHECKPOINT_SECONDS = 5.0
GAP_SECONDS = 10.0  # a live stream this far behind the wall clock broke off (stream.segments.airplay)
SCHEMA = """
CREATE TABLE IF NOT EXISTS segments (
    stream TEXT NOT NULL,
    start_time REAL NOT NULL,
    end_time REAL NOT NULL,
    genre TEXT NOT NULL,
    mean_probability REAL NOT NULL,
    unsure INTEGER NOT NULL,
    ended_by TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS segments_by_start ON segments (start_time);
CREATE TABLE IF NOT EXISTS open_segments (
    stream TEXT PRIMARY KEY,
    start_time REAL NOT NULL,
    end_time REAL NOT NULL,
    genre TEXT NOT NULL,
    mean_probability REAL NOT NULL,
    unsure INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS log_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
COLUMNS = "stream, start_time, end_time, genre, mean_probability, unsure"
ENDED_BY = ("genre", "stop", "gap", "restart")


class AirplayLogError(ValueError):
    """A --log or report DB that is not an airplay log (or cannot be opened): one line."""


@dataclass(frozen=True)
class LoggedSegment:
    """One row: a finished segment, or (``ended_by`` None) the checkpoint of an open one."""

    stream: str
    start_time: float
    end_time: float
    genre: str
    mean_probability: float
    unsure: bool
    ended_by: str | None

    @property
    def seconds(self) -> float:
        return self.end_time - self.start_time


class AirplayLog:
    """The log file; a context manager that closes it. Safe to call from several threads
    (the scheduler's and the main one): every call holds one lock."""

    def __init__(self, path: Path, create: bool = True):
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise AirplayLogError(f"{self.path}: no such airplay log")
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            if create:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")  # durable against a killed process, not a lost disk
                self._db.executescript(SCHEMA)
            self._check_format(create)
        except sqlite3.DatabaseError as error:
            raise AirplayLogError(f"{self.path}: not a genrescope airplay log ({error})") from error

    def _check_format(self, create: bool) -> None:
        """A new log gets the format version; an existing file must have this one (a reader
        never writes: another SQLite file is refused, not given tables)."""
        tables = {name for (name,) in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "log_info" not in tables:
            raise AirplayLogError(f"{self.path}: not a genrescope airplay log (no log_info table)")
        if create:
            with self._db:
                self._db.execute("INSERT OR IGNORE INTO log_info VALUES ('format', ?)", (FORMAT_VERSION,))
        row = self._db.execute("SELECT value FROM log_info WHERE key = 'format'").fetchone()
        version = row[0] if row else None
        if version != FORMAT_VERSION:
            raise AirplayLogError(f"{self.path}: airplay log format {version}, this genrescope reads {FORMAT_VERSION}")

    def __enter__(self) -> AirplayLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- writing ----------------------------------------------------------------------

    def record(self, stream: str, finished: Iterable[tuple[Segment, str]], running: Segment | None) -> None:
        """Finished segments (each with why it ended) and the segment still running, which
        replaces the stream's checkpoint (None: the stream stopped, no checkpoint); one
        transaction, so a crash never leaves a checkpoint overlapping a finished row."""
        rows = [(stream, *_values(segment), ended_by) for segment, ended_by in finished]
        with self._lock, self._db:
            self._db.executemany(f"INSERT INTO segments ({COLUMNS}, ended_by) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            if running is None:
                self._db.execute("DELETE FROM open_segments WHERE stream = ?", (stream,))
            else:
                self._db.execute(
                    f"INSERT OR REPLACE INTO open_segments ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                    (stream, *_values(running)),
                )

    def close_interrupted(self) -> int:
        """Close the checkpoints a killed run left (``ended_by = 'restart'``, at their last
        checkpoint); how many. Called once at start, before anything new is logged."""
        with self._lock, self._db:
            moved = self._db.execute(
                f"INSERT INTO segments ({COLUMNS}, ended_by) SELECT {COLUMNS}, 'restart' FROM open_segments"
            ).rowcount
            self._db.execute("DELETE FROM open_segments")
        return moved

    def set_labels(self, labels: Iterable[str]) -> None:
        """The model's genres, in its order (the report colours them as the dashboard does)."""
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO log_info VALUES ('labels', ?)", (json.dumps(list(labels)),))

    # --- reading ----------------------------------------------------------------------

    def labels(self) -> list[str]:
        with self._lock:
            row = self._db.execute("SELECT value FROM log_info WHERE key = 'labels'").fetchone()
        return json.loads(row[0]) if row else []

    def segments(self, since: float | None = None, stream: str | None = None) -> list[LoggedSegment]:
        """Finished segments and open checkpoints that end after ``since``, by start time."""
        where, values = ["end_time > ?"], [since if since is not None else float("-inf")]
        if stream is not None:
            where.append("stream = ?")
            values.append(stream)
        condition = " AND ".join(where)
        query = (
            f"SELECT {COLUMNS}, ended_by FROM segments WHERE {condition} UNION ALL "
            f"SELECT {COLUMNS}, NULL FROM open_segments WHERE {condition} ORDER BY start_time, stream"
        )
        with self._lock:
            rows = self._db.execute(query, values * 2).fetchall()
        return [
            LoggedSegment(stream, start, end, genre, p, bool(unsure), ended_by)
            for stream, start, end, genre, p, unsure, ended_by in rows
        ]

    def streams(self) -> list[str]:
        with self._lock:
            rows = self._db.execute("SELECT stream FROM segments UNION SELECT stream FROM open_segments").fetchall()
        return sorted(name for (name,) in rows)


def _values(segment: Segment) -> tuple[float, float, str, float, int]:
    return (segment.start_s, segment.end_s, segment.genre, round(segment.mean_probability, 4), int(segment.unsure))
