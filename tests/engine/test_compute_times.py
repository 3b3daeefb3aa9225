"""The engine's bounded compute-time record: fixed memory, percentiles close to exact."""

import numpy as np
import pytest

from genrescope.stream.engine.compute_times import ComputeTimes


def test_whole_run_percentiles_are_within_half_a_percent():
    times = np.random.default_rng(0).lognormal(mean=1.0, sigma=0.6, size=50_000)
    record = ComputeTimes(window=500)
    for ms in times:
        record.add(float(ms))
    approximate = record.run_percentiles([50, 99])
    exact = np.percentile(times, [50, 99])
    assert approximate == pytest.approx(exact, rel=0.006)
    assert record.count == len(times) and record.last == times[-1]


def test_recent_percentiles_are_exact_over_the_window_and_memory_is_fixed():
    record = ComputeTimes(window=100)
    for ms in range(1, 10_001):
        record.add(float(ms))
    assert len(record.recent) == 100
    assert record.recent_percentiles([50]) == pytest.approx([np.percentile(np.arange(9901, 10_001), 50)])


def test_empty_record_and_out_of_range_times():
    record = ComputeTimes(window=10)
    assert record.run_percentiles([50, 99]) == [0.0, 0.0] and record.recent_percentiles([50]) == [0.0]
    record.add(0.0)
    record.add(float("nan"))
    record.add(1e9)
    assert record.count == 3 and record.run_percentiles([0, 100])[1] > 1e4
