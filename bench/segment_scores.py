"""How good a segmentation is against a medley's truth: the bench's metrics, pooled.

* boundaries: an estimated genre change is a hit when it lies within ±7.5 s of a true
  one, each matched at most once (``mir_eval.util.match_events``, the maximum matching
  MIREX segmentation uses); the recording's own start and end are not boundaries;
* time accuracy: the share of the medley's columns whose segment genre is the true one;
* segments per true segment, and the share of time marked unsure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mir_eval
import numpy as np

from genrescope.stream.segments import Segment

WINDOW_S = 7.5


@dataclass
class Tally:
    """Counts summed over medleys; the rates come out at the end."""

    true_boundaries: int = 0
    estimated_boundaries: int = 0
    hits: int = 0
    columns: int = 0
    right_columns: int = 0
    unsure_columns: int = 0
    true_segments: int = 0
    estimated_segments: int = 0
    offsets_s: list[float] = field(default_factory=list)  # estimated − true, of every hit

    def add(self, other: Tally) -> None:
        for name in (
            "true_boundaries",
            "estimated_boundaries",
            "hits",
            "columns",
            "right_columns",
            "unsure_columns",
            "true_segments",
            "estimated_segments",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.offsets_s += other.offsets_s

    def summary(self) -> dict[str, float]:
        precision = self.hits / max(1, self.estimated_boundaries)
        recall = self.hits / max(1, self.true_boundaries)
        return {
            "boundary_precision": round(precision, 4),
            "boundary_recall": round(recall, 4),
            "boundary_f": round(2 * precision * recall / max(1e-12, precision + recall), 4),
            "time_accuracy": round(self.right_columns / max(1, self.columns), 4),
            "segments_per_true_segment": round(self.estimated_segments / max(1, self.true_segments), 3),
            "spurious_boundaries": self.estimated_boundaries - self.hits,
            "estimated_boundaries": self.estimated_boundaries,
            "true_boundaries": self.true_boundaries,
            "unsure_time_share": round(self.unsure_columns / max(1, self.columns), 4),
            "median_hit_offset_s": round(float(np.median(self.offsets_s)), 2) if self.offsets_s else None,
        }


def shifted(segments: list[Segment], delay_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start times (the first at 0), genres and unsure flags, every change moved ``delay_s`` earlier."""
    starts = np.array([0.0] + [s.start_s - delay_s for s in segments[1:]])
    starts = np.maximum.accumulate(np.maximum(starts, 0.0))
    keep = np.append(np.diff(starts) > 0, True)  # a segment the shift squeezed to nothing is gone
    genres = np.array([s.genre for s in segments])
    unsure = np.array([s.unsure for s in segments])
    return starts[keep], genres[keep], unsure[keep]


def score(
    segments: list[Segment],
    delay_s: float,
    true_intervals: np.ndarray,
    true_genres: np.ndarray,
    labels: tuple[str, ...],
    column_seconds: float,
) -> Tally:
    """One medley's tally for ``segments`` (found with no boundary delay) moved by ``delay_s``."""
    starts, genres, unsure = shifted(segments, delay_s)
    true_changes, estimated_changes = true_intervals[1:, 0], starts[1:]
    matches = mir_eval.util.match_events(true_changes, estimated_changes, WINDOW_S)
    centres = (np.arange(round(true_intervals[-1, 1] / column_seconds)) + 0.5) * column_seconds
    estimated = np.searchsorted(starts, centres, side="right") - 1
    truth = np.searchsorted(true_intervals[:, 0], centres, side="right") - 1
    right = np.array([labels.index(g) for g in genres])[estimated] == true_genres[truth]
    return Tally(
        len(true_changes),
        len(estimated_changes),
        len(matches),
        len(centres),
        int(right.sum()),
        int(unsure[estimated].sum()),
        len(true_genres),
        len(starts),
        [float(estimated_changes[j] - true_changes[i]) for i, j in matches],
    )
