"""Segments as a CUE sheet: one track per segment over the analysed file.

A player or splitter that reads CUE sheets (foobar2000, VLC, shntool, libcue) then shows
or cuts a mix by genre. Times are CUE's MM:SS:FF with 75 frames a second; minutes go past
99 for long recordings, as players accept. A sheet holds at most 99 tracks (the CD's
limit, which libcue enforces), so a recording with more segments gets more sheets over
the same file: OUT.cue, OUT-2.cue, ... CUE has no escape for a double quote, so one in a
name becomes a single quote.
"""

from __future__ import annotations

import os
from pathlib import Path

from genrescope.stream.outputs import write_text_whole
from genrescope.stream.segments.config import SegmentConfig
from genrescope.stream.segments.smoother import Segment

FRAMES_PER_SECOND = 75
TRACKS_PER_SHEET = 99
FILE_TYPES = {".mp3": "MP3", ".aif": "AIFF", ".aiff": "AIFF"}  # WAVE for the rest, as CUE tools expect


def cue_time(seconds: float) -> str:
    """MM:SS:FF, rounded to the nearest frame."""
    frames = round(max(0.0, seconds) * FRAMES_PER_SECOND)
    minutes, rest = divmod(frames, 60 * FRAMES_PER_SECOND)
    return f"{minutes:02d}:{rest // FRAMES_PER_SECOND:02d}:{rest % FRAMES_PER_SECOND:02d}"


def quoted(text: str) -> str:
    return '"' + text.replace('"', "'") + '"'


def track_title(segment: Segment) -> str:
    return f"{segment.genre} (unsure)" if segment.unsure else segment.genre


def sheet_paths(path: Path, segments: int) -> list[Path]:
    """OUT.cue, then OUT-2.cue, OUT-3.cue ... as many as 99 tracks a sheet need."""
    sheets = max(1, -(-segments // TRACKS_PER_SHEET))
    return [path] + [path.with_name(f"{path.stem}-{n}{path.suffix}") for n in range(2, sheets + 1)]


def write_cue(path: Path, segments: list[Segment], source: str, model_version: str, config: SegmentConfig) -> None:
    """The sheet (sheets, past 99 segments); the audio file named relative to the sheet when it can be."""
    audio = Path(source)
    try:
        name = os.path.relpath(audio.absolute(), path.absolute().parent)
    except ValueError:  # another drive (Windows)
        name = str(audio.absolute())
    for part, sheet in enumerate(sheet_paths(path, len(segments))):
        tracks = segments[part * TRACKS_PER_SHEET : (part + 1) * TRACKS_PER_SHEET]
        title = audio.stem if part == 0 else f"{audio.stem} (part {part + 1})"
        file_type = FILE_TYPES.get(audio.suffix.lower(), "WAVE")
        write_text_whole(sheet, cue_sheet(tracks, title, name, file_type, model_version))


def cue_sheet(segments: list[Segment], title: str, audio_name: str, file_type: str, model_version: str) -> str:
    lines = [
        f"REM COMMENT {quoted(f'genre segments by genrescope, model {model_version}')}",
        f"TITLE {quoted(title)}",
        f"FILE {quoted(audio_name)} {file_type}",
    ]
    for number, segment in enumerate(segments, start=1):
        lines += [
            f"  TRACK {number:02d} AUDIO",
            f"    TITLE {quoted(track_title(segment))}",
            f"    REM GENRE {quoted(segment.genre)}",
            f"    REM PROBABILITY {segment.mean_probability:.3f}",
            f"    INDEX 01 {cue_time(segment.start_s)}",
        ]
    return "\n".join(lines) + "\n"
