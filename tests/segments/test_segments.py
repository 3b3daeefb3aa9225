"""The genre smoother (stream.segments): hand-computable cases, online against offline,
bounded memory and delay."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from genrescope.stream.segments import OnlineSegmenter, Segment, SegmentConfig, segment

LABELS = ("Folk", "Pop", "Rock")
A, B, C = (0.8, 0.1, 0.1), (0.1, 0.8, 0.1), (0.1, 0.1, 0.8)
# One update a second, no boundary delay: boundaries fall half-way between two updates.
PLAIN = SegmentConfig(switch_cost=1.0, min_duration_s=1.0, delay_s=0.0)


def run(rows: list[tuple[float, ...]], config: SegmentConfig = PLAIN) -> list[tuple[str, float, float]]:
    segments = segment(np.arange(len(rows), dtype=float), np.array(rows), LABELS, config)
    return [(s.genre, s.start_s, s.end_s) for s in segments]


def random_medley(seed: int, updates: int, shortest: int, noise: float) -> np.ndarray:
    """Runs of a random genre (``shortest`` to 3× as many updates), as noisy probabilities."""
    rng = np.random.default_rng(seed)
    genres: list[int] = []
    while len(genres) < updates:
        genres += [int(rng.integers(len(LABELS)))] * int(rng.integers(shortest, 3 * shortest))
    rows = rng.dirichlet(np.full(len(LABELS), noise), size=updates)
    rows[np.arange(updates), genres[:updates]] += 1.0
    return rows / rows.sum(axis=1, keepdims=True)


def online(rows: np.ndarray, config: SegmentConfig, update_seconds: float = 1.0) -> list[Segment]:
    segmenter = OnlineSegmenter(LABELS, config, update_seconds=update_seconds)
    final = []
    for index, row in enumerate(rows):
        final += segmenter.push(index * update_seconds, row)
    return final + segmenter.flush()


def test_one_genre_is_one_segment_from_the_start_to_the_last_update():
    (only,) = segment(np.arange(10.0), np.array([A] * 10), LABELS, PLAIN)
    assert only == Segment(0.0, 9.0, "Folk", pytest.approx(0.8), False)


@pytest.mark.parametrize(
    "rows, config, expected",
    [
        # No cost, no minimum: exactly the argmax change points, boundaries half-way.
        (
            [A] * 3 + [B] * 2 + [A] * 3,
            SegmentConfig(switch_cost=0, min_duration_s=1, delay_s=0),
            [("Folk", 0, 2.5), ("Pop", 2.5, 4.5), ("Folk", 4.5, 7)],
        ),
        # A 2-update blip gains 2·ln(0.8/0.1) = 4.16 over staying, against two switches at 3 each: absorbed.
        ([A] * 5 + [B] * 2 + [A] * 5, SegmentConfig(switch_cost=3, min_duration_s=1, delay_s=0), [("Folk", 0, 11)]),
        # ... at 2 each (4 < 4.16) it stands.
        (
            [A] * 5 + [B] * 2 + [A] * 5,
            SegmentConfig(switch_cost=2, min_duration_s=1, delay_s=0),
            [("Folk", 0, 4.5), ("Pop", 4.5, 6.5), ("Folk", 6.5, 11)],
        ),
        # A minimum of 4 updates: the blip must take two Folk updates with it (net 0) and pay 2 × 0.5.
        ([A] * 5 + [B] * 2 + [A] * 5, SegmentConfig(switch_cost=0.5, min_duration_s=4, delay_s=0), [("Folk", 0, 11)]),
        # The first and last segments may be shorter than the minimum: the recording cut them.
        (
            [B] * 2 + [A] * 8 + [C] * 2,
            SegmentConfig(switch_cost=0.5, min_duration_s=4, delay_s=0),
            [("Pop", 0, 1.5), ("Folk", 1.5, 9.5), ("Rock", 9.5, 11)],
        ),
        # The boundary moves earlier by the delay; the ends stay where the recording is.
        (
            [A] * 6 + [C] * 6,
            SegmentConfig(switch_cost=1, min_duration_s=1, delay_s=2),
            [("Folk", 0, 3.5), ("Rock", 3.5, 11)],
        ),
    ],
)
def test_hand_computed_segmentations(rows, config, expected):
    assert run(rows, config) == expected


@pytest.mark.parametrize("updates, cost_below_gain", [(10, True), (10, False), (40, True), (40, False)])
def test_a_switch_happens_exactly_when_its_evidence_outweighs_the_cost(updates, cost_below_gain):
    """Folk at 0.4 against Pop at 0.6 for n one-second updates: switching gains n·ln(1.5)."""
    gain = updates * math.log(0.6 / 0.4)
    config = SegmentConfig(switch_cost=gain * (0.9 if cost_below_gain else 1.1), min_duration_s=1, delay_s=0)
    rows = [A] * 10 + [(0.4, 0.6, 0.0)] * updates
    genres = [genre for genre, _, _ in run(rows, config)]
    assert genres == (["Folk", "Pop"] if cost_below_gain else ["Folk"])


def test_the_unsure_flag_follows_the_segments_mean_probability():
    rows = [(0.5, 0.3, 0.2)] * 5 + [(0.2, 0.35, 0.45)] * 5
    first, second = segment(
        np.arange(10.0),
        np.array(rows),
        LABELS,
        PLAIN.__class__(switch_cost=0, min_duration_s=1, delay_s=0, unsure_below=0.48),
    )
    assert (first.genre, first.mean_probability, first.unsure) == ("Folk", pytest.approx(0.5), False)
    assert (second.genre, second.mean_probability, second.unsure) == ("Rock", pytest.approx(0.45), True)


@pytest.mark.parametrize("seed", range(6))
def test_online_equals_offline_when_the_recording_fits_in_the_lag(seed):
    """Pure noise, the worst case for a decoder: with the whole recording inside the lag,
    nothing is forced and the flush decides exactly as offline Viterbi."""
    rows = np.random.default_rng(seed).dirichlet(np.ones(len(LABELS)), size=60)
    config = SegmentConfig(switch_cost=2, min_duration_s=5, delay_s=1.5, lag_s=60)
    assert online(rows, config) == segment(np.arange(60.0), rows, LABELS, config)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("noise", [0.3, 1.0, 3.0])
def test_online_equals_offline_on_long_recordings_whose_evidence_settles_within_the_lag(seed, noise):
    """5,000 updates of genre runs at least twice the minimum duration: the fixed-lag
    decisions are the ones exact Viterbi over the whole recording takes."""
    rows = random_medley(seed, 5000, shortest=40, noise=noise)
    config = SegmentConfig(switch_cost=3, min_duration_s=20, delay_s=4, lag_s=80)
    offline = segment(np.arange(5000.0), rows, LABELS, config)
    assert len(offline) > 30
    assert online(rows, config) == offline


@pytest.mark.parametrize("seed", range(4))
def test_forced_decisions_stay_a_valid_segmentation(seed):
    """A lag far too short for noisy, short runs forces guesses; committed guesses still
    bind later ones, so the minimum duration holds and neighbours differ."""
    rows = random_medley(seed, 3000, shortest=5, noise=3.0)
    config = SegmentConfig(switch_cost=1, min_duration_s=8, delay_s=0, lag_s=3)
    segments = online(rows, config)
    assert segments[0].start_s == 0 and segments[-1].end_s == len(rows) - 1
    for before, after in itertools.pairwise(segments):
        assert before.end_s == after.start_s and before.genre != after.genre
    assert all(s.duration_s >= 8 for s in segments[1:-1])


def test_memory_and_decision_delay_are_bounded_by_the_lag():
    config = SegmentConfig(switch_cost=2, min_duration_s=10, lag_s=30)
    segmenter = OnlineSegmenter(LABELS, config, update_seconds=0.5)
    rows = random_medley(0, 20_000, shortest=30, noise=1.0)
    most_open, closed = 0, []
    for index, row in enumerate(rows):
        closed += segmenter.push(index * 0.5, row)
        most_open = max(most_open, segmenter.open_updates)
    assert most_open == 60  # 30 s of 0.5 s updates, never more
    assert len(closed) > 100  # segments come out while the stream runs, not at the end


def test_the_open_segment_is_the_running_one_up_to_the_newest_update():
    segmenter = OnlineSegmenter(
        LABELS, SegmentConfig(switch_cost=1, min_duration_s=2, delay_s=0, lag_s=5), update_seconds=1.0
    )
    assert segmenter.open_segment() is None
    final = []
    for index, row in enumerate([A] * 12 + [C] * 3):
        final += segmenter.push(float(index), row)
    assert final == []  # the change to Rock is not decided yet
    assert segmenter.open_segment() == Segment(11.5, 14.0, "Rock", pytest.approx(0.8), False)
    assert [s.genre for s in segmenter.flush()] == ["Folk", "Rock"]


def test_rows_of_the_wrong_width_are_refused():
    with pytest.raises(ValueError, match="expected 3 probabilities"):
        OnlineSegmenter(LABELS).push(0.0, [0.5, 0.5])
