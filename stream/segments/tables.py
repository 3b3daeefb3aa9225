"""Segments as data: JSON (with what made them) and CSV (one row per segment)."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path

from genrescope.stream.outputs import write_text_whole, written_whole
from genrescope.stream.segments.config import SegmentConfig
from genrescope.stream.segments.smoother import Segment

CSV_COLUMNS = ("start_s", "end_s", "genre", "mean_probability", "unsure")


def write_json(path: Path, segments: list[Segment], source: str, model_version: str, config: SegmentConfig) -> None:
    """One object: the source, the model and segmenter settings, and the segments in order."""
    document = {
        "source": source,
        "model_version": model_version,
        "segmenter": asdict(config),
        "segments": [s.to_json() for s in segments],
    }
    write_text_whole(path, json.dumps(document, indent=1) + "\n")


def write_csv(path: Path, segments: list[Segment], source: str, model_version: str, config: SegmentConfig) -> None:
    """A header row, then one row per segment (times in seconds)."""
    with written_whole(path, newline="") as out:
        writer = csv.DictWriter(out, CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(s.to_json() for s in segments)
