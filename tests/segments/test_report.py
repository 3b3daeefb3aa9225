"""``genrescope report``: the CSV to the row on a hand-built log, the PNG drawn, bad input
in one line. (The HTML page in Chromium: tests/serve/test_report_page.py.)"""

from __future__ import annotations

import os
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest
from PIL import Image

from genrescope.stream.palette import genre_colours
from genrescope.stream.segments import Segment
from genrescope.stream.segments.airplay_log import AirplayLog
from genrescope.stream.segments.report import hourly_shares
from support import REPO, cli_command

LABELS = ("Folk", "Pop", "Rock")
TEN = datetime(2026, 12, 1, 10, tzinfo=timezone.utc).timestamp()  # 10:00 UTC
MINUTE = 60.0


def build_log(path: Path) -> Path:
    """r1: Rock 10:00-10:45, Pop (unsure) 10:45-11:15, Rock still running 11:15-11:30
    (its checkpoint); r2: Folk 10:30-11:00, then the stream stopped."""
    with AirplayLog(path) as log:
        log.set_labels(LABELS)
        log.record(
            "r1",
            [
                (Segment(TEN, TEN + 45 * MINUTE, "Rock", 0.7, False), "genre"),
                (Segment(TEN + 45 * MINUTE, TEN + 75 * MINUTE, "Pop", 0.3, True), "genre"),
            ],
            Segment(TEN + 75 * MINUTE, TEN + 90 * MINUTE, "Rock", 0.8, False),
        )
        log.record("r2", [(Segment(TEN + 30 * MINUTE, TEN + 60 * MINUTE, "Folk", 0.9, False), "stop")], None)
    return path


def report(*args: str) -> subprocess.CompletedProcess:
    """The real command, on UTC clock hours (the report uses the machine's local time)."""
    return subprocess.run(
        cli_command("report", *args),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TZ": "UTC"},
    )


def test_csv_has_one_exact_row_per_stream_hour_genre(tmp_path: Path) -> None:
    db = build_log(tmp_path / "airplay.sqlite")
    done = report(str(db), "--out", str(tmp_path / "hours.csv"))
    assert done.returncode == 0, done.stderr
    assert done.stderr == f"report: 4 segments of 2 stream(s) → {tmp_path / 'hours.csv'}\n"
    assert (tmp_path / "hours.csv").read_text().splitlines() == [
        "stream,hour,genre,seconds,unsure_seconds,share",
        "r1,2026-12-01T10:00+00:00,Rock,2700.0,0.0,0.7500",
        "r1,2026-12-01T10:00+00:00,Pop,900.0,900.0,0.2500",
        "r1,2026-12-01T11:00+00:00,Pop,900.0,900.0,0.5000",
        "r1,2026-12-01T11:00+00:00,Rock,900.0,0.0,0.5000",
        "r2,2026-12-01T10:00+00:00,Folk,1800.0,0.0,1.0000",
    ]
    only = report(str(db), "--stream", "r2", "--out", str(tmp_path / "r2.csv"))
    assert only.returncode == 0 and (tmp_path / "r2.csv").read_text().splitlines()[1:] == [
        "r2,2026-12-01T10:00+00:00,Folk,1800.0,0.0,1.0000"
    ]


def test_since_counts_only_the_part_of_a_segment_inside_the_period(tmp_path: Path) -> None:
    with AirplayLog(build_log(tmp_path / "airplay.sqlite"), create=False) as log:
        since = TEN + 60 * MINUTE  # 11:00
        rows = hourly_shares(log.segments(since), since)
    assert [(row.stream, row.genre, row.seconds) for row in rows] == [("r1", "Pop", 900.0), ("r1", "Rock", 900.0)]


def test_png_draws_each_genre_in_the_palette_colour(tmp_path: Path) -> None:
    out = tmp_path / "hours.png"
    done = report(str(build_log(tmp_path / "airplay.sqlite")), "--out", str(out))
    assert done.returncode == 0, done.stderr
    image = Image.open(out).convert("RGB")
    assert image.width >= 1000 and image.height >= 400
    seen = {colour for _, colour in image.getcolors(image.width * image.height)}
    for genre, hex_colour in genre_colours(LABELS).items():
        assert tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)) in seen, genre


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--since", "yesterday"), "--since: give a duration back from now, e.g. 90m, 24h, 7d or 2w"),
        (("--since", "24h"), "nothing logged in"),
        (("--stream", "r9"), "no stream 'r9' in"),
        (("--out", "{tmp}/hours.txt"), "give a .png, .html or .csv file"),
        (("--out", "{tmp}/missing/hours.csv"), "folder {tmp}/missing does not exist"),
        (("--db", "{tmp}/nowhere.sqlite"), "no such airplay log"),
        (("--db", "{tmp}/notes.txt"), "not a genrescope airplay log"),
    ],
)
def test_bad_input_is_one_line(arguments: tuple[str, ...], message: str, tmp_path: Path) -> None:
    db = str(build_log(tmp_path / "airplay.sqlite"))
    (tmp_path / "notes.txt").write_text("a text file, not a database, long enough for a header\n")
    given = dict(zip(arguments[::2], (value.format(tmp=tmp_path) for value in arguments[1::2]), strict=False))
    db = given.pop("--db", db)
    given.setdefault("--out", str(tmp_path / "hours.csv"))
    done = report(db, *[part for pair in given.items() for part in pair])
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1 and message.format(tmp=tmp_path) in done.stderr, done.stderr
    assert not (tmp_path / "hours.csv").exists()
