"""``--segments OUT``: which writer a path's extension names, checked before any work."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from genrescope.stream.cli.checks import output_file
from genrescope.stream.segments.audacity import write_audacity
from genrescope.stream.segments.config import SegmentConfig
from genrescope.stream.segments.cue import write_cue
from genrescope.stream.segments.smoother import Segment
from genrescope.stream.segments.tables import write_csv, write_json

Writer = Callable[[Path, list[Segment], str, str, SegmentConfig], None]
WRITERS: dict[str, Writer] = {".json": write_json, ".csv": write_csv, ".cue": write_cue, ".txt": write_audacity}
FORMATS_HELP = ".json, .csv, .cue (a CUE sheet) or .txt (an Audacity label track)"


def segments_file(text: str) -> Path:
    """An argparse type: a writable path whose extension names a segment format."""
    if Path(text).suffix.lower() not in WRITERS:
        raise argparse.ArgumentTypeError(f"{text}: segments are written as {FORMATS_HELP}, by the extension")
    return output_file(text)


def write_segments(path: Path, segments: list[Segment], source: str, model_version: str, config: SegmentConfig) -> None:
    """Write ``segments`` of the audio ``source`` in the format ``path``'s extension names."""
    WRITERS[path.suffix.lower()](path, segments, source, model_version, config)
