"""What an airplay log says about a period: each stream's genre share per hour, and totals.

Hours are the machine's local clock hours (ISO 8601 with the UTC offset, so a CSV read
elsewhere is unambiguous). A segment that spans hours counts in each hour for the part
it covers; a share is a genre's seconds over the seconds logged in that stream-hour, so
an hour only half logged (the server started at :30) still sums to 1. Unsure segments
(mean probability below the engine's threshold) count under their genre and are also
given apart (``unsure_seconds``), so a reader can weigh them.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from genrescope.stream.outputs import written_whole
from genrescope.stream.segments.airplay_log import LoggedSegment

HOUR = 3600.0
CSV_COLUMNS = ("stream", "hour", "genre", "seconds", "unsure_seconds", "share")
DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([mhdw])")
UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_since(text: str) -> float:
    """``--since``: a duration back from now (``90m``, ``24h``, ``7d``, ``2w``), in seconds."""
    found = DURATION.fullmatch(text.strip().lower())
    if not found or float(found.group(1)) <= 0:
        raise ValueError(f"--since {text!r}: give a duration back from now, e.g. 90m, 24h, 7d or 2w")
    return float(found.group(1)) * UNIT_SECONDS[found.group(2)]


@dataclass(frozen=True)
class HourShare:
    """One stream-hour-genre: its seconds (of them unsure) and its share of the hour."""

    stream: str
    hour: datetime  # local, aware
    genre: str
    seconds: float
    unsure_seconds: float
    share: float


def hourly_shares(segments: list[LoggedSegment], since: float | None = None) -> list[HourShare]:
    """Every stream-hour-genre the segments cover (from ``since``, Unix seconds), by stream,
    hour, then most seconds first."""
    seconds: dict[tuple[str, datetime, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for segment in segments:
        for hour, part in _hour_parts(max(segment.start_time, since or segment.start_time), segment.end_time):
            tally = seconds[(segment.stream, hour, segment.genre)]
            tally[0] += part
            tally[1] += part if segment.unsure else 0.0
    logged: dict[tuple[str, datetime], float] = defaultdict(float)
    for (stream, hour, _), (total, _) in seconds.items():
        logged[(stream, hour)] += total
    rows = [
        HourShare(stream, hour, genre, total, unsure, total / logged[(stream, hour)])
        for (stream, hour, genre), (total, unsure) in seconds.items()
        if logged[(stream, hour)] > 0
    ]
    return sorted(rows, key=lambda row: (row.stream, row.hour, -row.seconds, row.genre))


def _hour_parts(start: float, end: float) -> list[tuple[datetime, float]]:
    """(local hour, seconds of [start, end) inside it) for every hour the span touches."""
    parts = []
    hour = datetime.fromtimestamp(start).astimezone().replace(minute=0, second=0, microsecond=0)
    while hour.timestamp() < end:
        following = (hour + timedelta(hours=1)).astimezone()  # across a DST change too
        part = min(end, following.timestamp()) - max(start, hour.timestamp())
        if part > 0:
            parts.append((hour, part))
        hour = following
    return parts


def totals(segments: list[LoggedSegment], since: float | None = None) -> dict[str, dict[str, float]]:
    """Per stream, seconds per genre over the whole period, most first."""
    by_stream: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for segment in segments:
        by_stream[segment.stream][segment.genre] += segment.end_time - max(
            segment.start_time, since or segment.start_time
        )
    return {
        stream: dict(sorted(genres.items(), key=lambda item: -item[1])) for stream, genres in sorted(by_stream.items())
    }


def write_csv(rows: list[HourShare], path: Path) -> None:
    """One row per stream-hour-genre."""
    with written_whole(path, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            writer.writerow(
                [
                    row.stream,
                    row.hour.isoformat(timespec="minutes"),
                    row.genre,
                    f"{row.seconds:.1f}",
                    f"{row.unsure_seconds:.1f}",
                    f"{row.share:.4f}",
                ]
            )


def clock(timestamp: float) -> str:
    """A time as a reader of the report wants it: local, to the second."""
    return datetime.fromtimestamp(timestamp).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float) -> str:
    """``1:02:03`` or ``2:03``."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
