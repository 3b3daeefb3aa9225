"""A built-in demo source: a synthesised four-on-the-floor electronic loop, forever.

It lets ``genrescope serve --source demo`` run on a fresh machine with no music files
and no sound card. It is plain synthesis (kick, hi-hat, clap, acid-ish bass, pad), not
a recording, so its genre probabilities show the engine at work rather than a benchmark.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from genrescope.stream.sources.chunk import AudioChunk
from genrescope.stream.sources.pacing import paced

RATE = 44_100
BPM = 126
BEAT = 60.0 / BPM
BAR_SAMPLES = int(4 * BEAT * RATE)
BASS_NOTES = (36, 36, 48, 36, 39, 36, 43, 41)  # MIDI, one per eighth note


def _midi_hz(note: int) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def _envelope(n: int, decay: float) -> np.ndarray:
    return np.exp(-np.arange(n) / (decay * RATE)).astype(np.float32)


def _place(bar: np.ndarray, sound: np.ndarray, at: float) -> None:
    start = int(at * RATE)
    end = min(len(bar), start + len(sound))
    bar[start:end] += sound[: end - start]


def render_bar(seed: int = 0) -> np.ndarray:
    """One bar (≈1.9 s) of the loop as mono float32 at 44.1 kHz."""
    rng = np.random.default_rng(seed)
    bar = np.zeros(BAR_SAMPLES, dtype=np.float32)
    t = np.arange(int(0.3 * RATE)) / RATE
    kick = np.sin(2 * np.pi * (50 * t + 60 * (1 - np.exp(-t * 30)) / 30)) * _envelope(len(t), 0.12)
    hat = rng.standard_normal(int(0.05 * RATE)).astype(np.float32) * _envelope(int(0.05 * RATE), 0.01)
    hat = np.diff(hat, prepend=0)  # high-passed noise
    clap = rng.standard_normal(int(0.15 * RATE)).astype(np.float32) * _envelope(int(0.15 * RATE), 0.04)
    for beat in range(4):
        _place(bar, 0.9 * kick, beat * BEAT)
        _place(bar, 0.25 * hat, (beat + 0.5) * BEAT)
        if beat in (1, 3):
            _place(bar, 0.3 * clap, beat * BEAT)
    step = BEAT / 2
    n = int(step * RATE)
    tb = np.arange(n) / RATE
    for i, note in enumerate(BASS_NOTES):
        saw = 2 * ((tb * _midi_hz(note)) % 1.0) - 1
        _place(bar, 0.25 * saw * _envelope(n, 0.15), i * step)
    tp = np.arange(BAR_SAMPLES) / RATE
    pad = sum(np.sin(2 * np.pi * _midi_hz(n) * tp) for n in (60, 63, 67, 70)) / 4
    bar += 0.12 * pad.astype(np.float32)
    return np.clip(bar, -1.0, 1.0)


class DemoSource:
    """Endless loop of the demo bar in 0.1 s blocks; paced at 1× when ``realtime``."""

    name = "demo (synthesised electronic loop)"

    def __init__(self, realtime: bool = True, block_seconds: float = 0.1, seconds: float | None = None):
        self.realtime = realtime
        self.block = int(block_seconds * RATE)
        self.limit = None if seconds is None else int(seconds * RATE)

    def __iter__(self) -> Iterator[AudioChunk]:
        return paced(self._blocks()) if self.realtime else self._blocks()

    def _blocks(self) -> Iterator[AudioChunk]:
        loop = np.concatenate([render_bar(seed) for seed in range(4)])
        position = 0
        while self.limit is None or position < self.limit:
            index = (position + np.arange(self.block)) % len(loop)
            position += self.block
            yield AudioChunk(loop[index][:, None], RATE)
