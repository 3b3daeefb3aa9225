"""Synthesised music of known pitch for the chroma and key tests: harmonic notes
(tempered or detuned), triads and a scale-plus-cadence piece in any of the 24 keys."""

from __future__ import annotations

import numpy as np

from genrescope.model.frontend.pitch import A4_HZ, A4_MIDI, Key

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11, 12)
HARMONIC_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 11, 12)  # the raised 7th is the minor key's leading tone


def note(midi: float, seconds: float, rate: int, cents: float = 0.0, harmonics: int = 6) -> np.ndarray:
    """A plucked harmonic tone: partials k·f0 at amplitude 1/k, 10 ms attack, decaying."""
    f0 = A4_HZ * 2 ** ((midi - A4_MIDI + cents / 100) / 12)
    t = np.arange(int(seconds * rate)) / rate
    partials = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, harmonics + 1) if k * f0 < rate / 2)
    envelope = np.minimum(1.0, t / 0.01) * np.exp(-t / max(seconds, 0.3))
    return (partials * envelope).astype(np.float64)


def chord(midis: tuple[float, ...], seconds: float, rate: int, cents: float = 0.0) -> np.ndarray:
    return sum(note(m, seconds, rate, cents) for m in midis) / len(midis)


def triad(root: int, minor: bool) -> tuple[int, int, int]:
    return root, root + (3 if minor else 4), root + 7


def key_piece(key: Key, rate: int, cents: float = 0.0) -> np.ndarray:
    """The key's scale up (a quarter second a note, around middle C), then the cadence
    I–IV–V–I (i–iv–V–i in minor), one second a chord over its root an octave below."""
    tonic = 60 + key.tonic
    scale = HARMONIC_MINOR_SCALE if key.minor else MAJOR_SCALE
    parts = [note(tonic + step, 0.25, rate, cents) for step in scale]
    for degree, minor in ((0, key.minor), (5, key.minor), (7, False), (0, key.minor)):
        root = tonic + degree
        parts.append(chord((root - 12, *triad(root, minor)), 1.0, rate, cents))
    audio = np.concatenate(parts)
    return (0.5 * audio / np.abs(audio).max()).astype(np.float32)
