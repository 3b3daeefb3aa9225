"""Genre segments: "from 00:12:30 to 00:19:10 it was Hip-Hop", from per-update probabilities.

The engine says what it hears every 0.234 s; a listener of an hour-long mix or a radio log
wants runs of one genre. Argmax change points flicker whenever two genres are close, so the
segments come from a hidden Markov model over the calibrated probabilities instead
(``viterbi``): a switching cost and a minimum duration, decoded with Viterbi, offline over a
whole recording (``segment``) or online with a bounded decision delay for live streams
(``OnlineSegmenter``). ``SegmentConfig`` holds every default, chosen on the medley bench
(bench/segments.py).
"""

from genrescope.stream.segments.config import SegmentConfig
from genrescope.stream.segments.smoother import OnlineSegmenter, Segment, segment

__all__ = ["OnlineSegmenter", "Segment", "SegmentConfig", "segment"]
