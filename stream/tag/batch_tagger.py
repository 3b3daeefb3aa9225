"""Whole-file genre at the speed of decoding: columns in stacks, the model on whole windows.

The streaming engine runs the model once per column (every 0.234 s) over up to 30 s of
context, so a 4-minute song costs ≈1,000 model runs. Offline nothing has to be answered
before the file ends, so here a file's columns come from vectorised frontend calls over
a few hundred columns at a time (the samples are dropped once their columns are cut, see
``file_columns``), and the model sees **whole windows** of the model's full context
(128 columns = 30 s), stepped by
``WindowPlan.hop`` columns (32 = 7.5 s, i.e. 75% overlap; the last window is aligned to
the file's end so no column is left out), several windows per onnxruntime call. A file
shorter than one window is one window of everything it has. The whole-file estimate is
the mean of the windows' calibrated probabilities, as the streaming tagger's is the
mean of its updates'.

Each window is re-referenced to its own maximum and floored, exactly as the engine
re-references its context, so a window here is what the engine would feed the model
at the column where that window ends. What differs from the per-update mean: that mean
also averages the ramp-up (contexts of 1–30 s at the start of a file) and weighs every
0.234 s step, where this one weighs every 7.5 s step of full 30 s windows
(agreement measured in bench/tag_agreement.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genrescope.model.frontend.frontend import MelFrontend
from genrescope.model.frontend.pitch import file_key
from genrescope.model.session import GenreModel
from genrescope.stream.engine.config import EngineConfig
from genrescope.stream.engine.framing import ColumnFeatures, ColumnFramer
from genrescope.stream.segments.tagging import file_segments
from genrescope.stream.sources.audio_file import AudioFileError, decode_blocks
from genrescope.stream.sources.chunk import AudioChunk
from genrescope.stream.tag.tags import FileTags

# Decoding in blocks this long: fewer, larger concatenations than the live path's 0.1 s.
DECODE_BLOCK_SECONDS = 5.0
# Columns per frontend call: bounds the float64 FFT buffers, ≈4 MB each per 256 columns
# (a stack of 1,024 put 65 MB more on a 30-minute file's peak than on a 30 s clip's).
COLUMN_CHUNK = 256


@dataclass(frozen=True)
class WindowPlan:
    """How a file's columns are cut into model inputs."""

    hop: int = 32  # columns between window starts: 7.5 s, 75% overlap of 30 s windows
    batch: int = 8  # windows per onnxruntime call

    def __post_init__(self) -> None:
        if self.hop < 1 or self.batch < 1:
            raise ValueError("the window hop and the batch size must be at least 1")


def window_starts(n_columns: int, window: int, hop: int) -> np.ndarray:
    """First column of each window: every ``hop``, plus one ending at the last column."""
    if n_columns <= window:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, n_columns - window + 1, hop)
    if starts[-1] != n_columns - window:
        starts = np.append(starts, n_columns - window)
    return starts


def relative_windows(columns_db: np.ndarray, starts: np.ndarray, length: int, floor_db: float) -> np.ndarray:
    """Windows [B, length, M] of absolute-dB columns, each re-referenced to its own
    maximum and floored: the engine's ``relative_context`` for each of them."""
    windows = columns_db[starts[:, None] + np.arange(length)[None, :]]
    return np.maximum(windows - windows.max(axis=(1, 2), keepdims=True), floor_db)


def file_columns(frontend: MelFrontend, blocks: Iterable[AudioChunk]) -> tuple[np.ndarray, np.ndarray, float]:
    """Every column of a stream of decoded blocks: absolute dB [T, n_mels], chroma
    [T, 12] (both from one power spectrum per column) and the audio's length in seconds.

    The audio is never held whole: the framer keeps the few windows' worth a later
    column needs, and the windows go through the FFT about ``COLUMN_CHUNK`` at a time, so
    a three-hour mix costs the memory of its columns (levels and chroma, ≈9.5 MB an
    hour), not of its samples (≈635 MB an hour at 44.1 kHz in float32).
    """
    framer = ColumnFramer(frontend.spec)
    db, pitch = [frontend.empty_context()], [np.empty((0, 12))]

    def add(windows: list[np.ndarray]) -> None:
        features = ColumnFeatures.of(frontend, np.concatenate(windows), pitch=True)
        db.append(features.levels)
        pitch.append(features.chroma)

    waiting: list[np.ndarray] = []
    for chunk in blocks:
        waiting.append(framer.take(chunk).windows)
        if sum(map(len, waiting)) >= COLUMN_CHUNK:
            add(waiting)
            waiting = []
    add(waiting + [framer.take_final().windows])
    return np.concatenate(db), np.concatenate(pitch), framer.received / frontend.spec.sample_rate


class BatchTagger:
    """Whole-file estimates from one model on one thread (one tagger per core)."""

    def __init__(self, model: GenreModel, plan: WindowPlan = WindowPlan()):
        self.model = model
        self.plan = plan
        self.spec = model.card.frontend
        self.frontend = MelFrontend(self.spec)
        # The same shortest input the engine answers: its first update comes after this.
        self.min_columns = EngineConfig().min_columns(self.spec.column_seconds)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.model.labels

    @property
    def model_version(self) -> str:
        return self.model.card.version

    def probabilities(self, columns_db: np.ndarray) -> np.ndarray | None:
        """Mean calibrated probabilities over the windows of a file's columns; None when
        the file is shorter than the engine's first update."""
        windows = self.window_probabilities(columns_db)
        return None if windows is None else windows[1].mean(axis=0)

    def window_probabilities(self, columns_db: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Each window's time (that of the engine update at its last column, in seconds)
        and calibrated probabilities [W, G]; None when the file is too short."""
        if len(columns_db) < self.min_columns:
            return None
        length = min(len(columns_db), self.spec.context_columns)
        starts = window_starts(len(columns_db), length, self.plan.hop)
        probabilities = [
            self.model.probabilities(
                relative_windows(columns_db, starts[i : i + self.plan.batch], length, self.spec.floor_db)
            )
            for i in range(0, len(starts), self.plan.batch)
        ]
        times = np.array([self.spec.column_center(int(s) + length - 1) for s in starts]) / self.spec.sample_rate
        return times, np.concatenate(probabilities)

    def tag(self, path: str | Path) -> FileTags:
        """The estimate of the file at ``path`` (or the reason there is none); a long file
        also gets its genre segments (stream.segments.tagging)."""
        try:
            columns_db, columns_chroma, seconds = file_columns(self.frontend, decode_blocks(path, DECODE_BLOCK_SECONDS))
        except AudioFileError as error:
            return FileTags(str(path), error=str(error))
        windows = self.window_probabilities(columns_db)
        if windows is None:
            return FileTags(str(path), seconds)
        times, probabilities = windows
        return FileTags.from_mean(
            str(path),
            seconds,
            self.labels,
            probabilities.mean(axis=0),
            file_key(columns_chroma),
            file_segments(times, probabilities, self.labels, seconds),
        )


def load_batch_tagger(
    model_path: Path | None = None, plan: WindowPlan = WindowPlan(), prefer_gpu: bool = False
) -> BatchTagger:
    """A tagger on one onnxruntime thread: libraries go faster one file per core."""
    return BatchTagger(GenreModel.load(model_path, threads=1, prefer_gpu=prefer_gpu), plan)
