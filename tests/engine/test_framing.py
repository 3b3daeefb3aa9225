"""The column framer shared by the engine and the whole-file tagger: blocks of any size
give the same windows as one block, and memory does not grow with the stream."""

from __future__ import annotations

import numpy as np
import pytest

from genrescope.model.frontend.frontend import frame_windows
from genrescope.model.frontend.spec import FrontendSpec
from genrescope.stream.engine.framing import ColumnFramer
from genrescope.stream.sources.chunk import AudioChunk
from support import count_columns

SPEC = FrontendSpec()


def _frame(audio: np.ndarray, block: int) -> tuple[list[int], np.ndarray, int]:
    framer, columns, windows, held = ColumnFramer(SPEC), [], [], 0
    for start in range(0, len(audio), block):
        cut = framer.take(AudioChunk(audio[start : start + block, None], SPEC.sample_rate))
        columns += list(cut.columns)
        windows.append(cut.windows)
        held = max(held, framer.held)
    cut = framer.take_final()
    return columns + list(cut.columns), np.concatenate(windows + [cut.windows]), held


@pytest.mark.parametrize("block", [100, 4410, 44_100 * 7])
def test_any_block_size_gives_every_column_of_the_whole_audio(block: int) -> None:
    audio = np.random.default_rng(0).standard_normal(SPEC.sample_rate * 12).astype(np.float32)
    columns, windows, _ = _frame(audio, block)
    count = count_columns(SPEC, len(audio))
    assert columns == list(range(count))
    centers = np.array([SPEC.column_center(c) for c in range(count)])
    np.testing.assert_array_equal(windows, frame_windows(audio, centers, SPEC.n_fft))


def test_memory_is_a_few_windows_whatever_the_length() -> None:
    block = SPEC.sample_rate // 10
    audio = np.random.default_rng(1).standard_normal(SPEC.sample_rate * 120).astype(np.float32)
    _, _, held = _frame(audio, block)
    # after each cut, less than the next column's window: never the stream, nor a block
    assert held < SPEC.n_fft
