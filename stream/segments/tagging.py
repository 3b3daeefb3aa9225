"""Which tagged files keep genre segments, and their segments.

`genrescope tag` gives a song one genre; a DJ mix or a radio recording needs its runs of
genres. Files of ten minutes or more get segments (stored and exported beside the
whole-file genre): nearly every song is shorter (radio edits run 3 to 5 minutes, album
tracks seldom pass 8; the few longer ones are suites and live takes whose sections can
well differ), while mixes and recorded shows run 30 minutes to hours. Segments of a song
would mostly say again what its one genre says, and cost a store row each.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genrescope.stream.segments.config import SegmentConfig
from genrescope.stream.segments.smoother import Segment, segment

SEGMENTS_FROM_SECONDS = 600.0


def file_segments(
    times_s: Sequence[float] | np.ndarray,
    probabilities: np.ndarray,
    labels: Sequence[str],
    audio_seconds: float,
    config: SegmentConfig = SegmentConfig(),
) -> tuple[Segment, ...]:
    """A tagged file's segments from its updates or windows: none below ``SEGMENTS_FROM_SECONDS``."""
    if audio_seconds < SEGMENTS_FROM_SECONDS or not len(times_s):
        return ()
    return tuple(segment(times_s, probabilities, labels, config, end_s=audio_seconds))
