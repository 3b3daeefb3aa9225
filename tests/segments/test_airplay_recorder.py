"""The airplay recorder and its SQLite log, on hand-built updates and a controlled clock:
genre changes, checkpoints, a stream's end, silence, a gap, a killed run's checkpoint."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from genrescope.stream.engine.events import GenreUpdate
from genrescope.stream.segments import SegmentConfig
from genrescope.stream.segments.airplay import AirplayRecorder
from genrescope.stream.segments.airplay_log import CHECKPOINT_SECONDS, AirplayLog, AirplayLogError

LABELS = ("Folk", "Pop", "Rock")
FOLK, POP = (0.8, 0.1, 0.1), (0.1, 0.8, 0.1)
STEP = 0.5  # seconds between updates
CONFIG = SegmentConfig(switch_cost=1.0, min_duration_s=2.0, lag_s=4.0, delay_s=0.0)
START = 1_800_000_000.0  # the wall clock at the stream's audio time 0


def update(time: float, probabilities: tuple[float, ...]) -> GenreUpdate:
    return GenreUpdate(
        time=time,
        column=round(time / STEP),
        labels=LABELS,
        probabilities=probabilities,
        raw_probabilities=probabilities,
        context_seconds=1.0,
        mel_column=(),
    )


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def feed(
    recorder: AirplayRecorder,
    clock: Clock,
    stream: str,
    rows: list[tuple[float, ...]],
    first: float,
    silent: bool = False,
) -> None:
    """Updates at 1× from stream time ``first`` on, the wall clock following."""
    for i, row in enumerate(rows):
        time = first + i * STEP
        clock.now = START + time
        recorder.update(stream, update(time, row), silent=silent)


def rows(log: AirplayLog) -> list[tuple]:
    return [(r.stream, r.start_time - START, r.end_time - START, r.genre, r.ended_by) for r in log.segments()]


def test_changes_checkpoints_silence_and_the_end(tmp_path: Path) -> None:
    clock = Clock()
    with AirplayLog(tmp_path / "log.sqlite") as log:
        recorder = AirplayRecorder(log, LABELS, STEP, CONFIG, clock)
        feed(recorder, clock, "r1", [FOLK] * 20 + [POP] * 20, first=STEP)  # 0.5 s … 20 s
        logged = rows(log)
        # Folk finished at the change (half-way between updates 10 and 10.5 s); Pop running,
        # its checkpoint at most CHECKPOINT_SECONDS behind the last update (20 s)
        assert logged[0] == ("r1", 0.0, 10.25, "Folk", "genre")
        assert logged[1][:2] == ("r1", 10.25) and logged[1][3:] == ("Pop", None)
        assert logged[1][2] >= 20.0 - CHECKPOINT_SECONDS
        feed(recorder, clock, "r1", [POP] * 4, first=20.5, silent=True)  # silence ends Pop, logs nothing
        feed(recorder, clock, "r1", [FOLK] * 8, first=22.5)
        recorder.close()  # the server stops
        assert rows(log) == [
            ("r1", 0.0, 10.25, "Folk", "genre"),
            ("r1", 10.25, 20.0, "Pop", "silence"),
            ("r1", 22.0, 26.0, "Folk", "stop"),
        ]


def test_a_stream_behind_the_wall_clock_ends_its_segment_at_the_gap(tmp_path: Path) -> None:
    clock = Clock()
    with AirplayLog(tmp_path / "log.sqlite") as log:
        recorder = AirplayRecorder(log, LABELS, STEP, CONFIG, clock)
        feed(recorder, clock, "r1", [FOLK] * 10, first=STEP)
        clock.now += 60  # a reconnect: a minute without audio, the stream's clock did not move
        recorder.update("r1", update(5.5, FOLK))
        recorder.end("r1")
        assert rows(log) == [("r1", 0.0, 5.0, "Folk", "gap"), ("r1", 64.5, 65.0, "Folk", "stop")]


def test_a_checkpoint_left_by_a_killed_run_is_closed_at_the_next_start(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "log.sqlite"
    log = AirplayLog(path)
    feed(AirplayRecorder(log, LABELS, STEP, CONFIG, clock), clock, "r1", [FOLK] * 12, first=STEP)
    # never closed: as after SIGKILL; a second connection sees what was committed
    with AirplayLog(path) as again:
        assert again.close_interrupted() == 1
        assert rows(again) == [("r1", 0.0, 5.5, "Folk", "restart")]
        assert again.close_interrupted() == 0


def test_what_is_not_an_airplay_log_is_refused_in_one_line(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all, but long enough to have a header of sixteen bytes\n")
    with pytest.raises(AirplayLogError, match="not a genrescope airplay log"):
        AirplayLog(text, create=False)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE tags (path TEXT)").connection.commit()
    with pytest.raises(AirplayLogError, match="no log_info table"):
        AirplayLog(other, create=False)
    assert sqlite3.connect(other).execute("SELECT name FROM sqlite_master").fetchall() == [("tags",)]  # untouched
    with pytest.raises(AirplayLogError, match="no such airplay log"):
        AirplayLog(tmp_path / "missing.sqlite", create=False)
