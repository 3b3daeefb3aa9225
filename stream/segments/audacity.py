"""Segments as an Audacity label track: File ▸ Import ▸ Labels… lays them over the audio.

Audacity's documented text form: one label per line, start and end in seconds and the
label, separated by tabs (``start\\tend\\tlabel``), six decimals as Audacity writes them.
"""

from __future__ import annotations

from pathlib import Path

from genrescope.stream.outputs import written_whole
from genrescope.stream.segments.config import SegmentConfig
from genrescope.stream.segments.cue import track_title
from genrescope.stream.segments.smoother import Segment


def write_audacity(path: Path, segments: list[Segment], source: str, model_version: str, config: SegmentConfig) -> None:
    """One tab-separated line per segment; tabs or newlines in a label become spaces."""
    with written_whole(path, newline="\n") as out:
        for segment in segments:
            label = " ".join(track_title(segment).split())
            out.write(f"{segment.start_s:.6f}\t{segment.end_s:.6f}\t{label}\n")
