"""Log-mel frontend in numpy: audio → absolute dB columns, with no torch in the runtime.

The model never sees a full STFT: each column is a single STFT frame (see spec.py), so
the streaming path computes one 2048-point FFT per update and nothing else. Offline
paths gather every column of a file in one batched call. Both go through
``MelFrontend.frames_db`` so they agree to the last bit. ``frontend_torch.py`` runs the
same computation on a GPU (the ``[gpu]`` extra; ``device.make_frontend`` picks one); a test
holds the two to 1e-3 dB of each other.

Levels here are *absolute* dB (10·log10 power). Referencing them to a maximum and
flooring them (``relative_db``) is a separate step because the reference depends on the
context: the whole clip for the thumbnails, the context seen so far when streaming.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from genrescope.model.frontend.spec import FrontendSpec

# Power below this (≈ −100 dB re full scale²) is treated as this, so silence gives a
# finite level instead of −inf.
POWER_FLOOR = 1e-10

# Slaney's mel scale (Auditory Toolbox; librosa's and torchaudio's "slaney"): linear at
# 200/3 Hz per mel up to 1 kHz, then logarithmic, 27 mels per factor 6.4 (= 2^(log2 6.4)).
SLANEY_HZ_PER_MEL = 200.0 / 3.0
SLANEY_BREAK_HZ = 1000.0
SLANEY_LOG_STEP = np.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray, scale: str) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    if scale == "htk":
        return 2595.0 * np.log10(1.0 + hz / 700.0)
    if scale != "slaney":
        raise ValueError(f"unknown mel scale {scale!r}: use 'slaney' or 'htk'")
    linear = hz / SLANEY_HZ_PER_MEL
    break_mel = SLANEY_BREAK_HZ / SLANEY_HZ_PER_MEL
    logarithmic = break_mel + np.log(np.maximum(hz, 1e-10) / SLANEY_BREAK_HZ) / SLANEY_LOG_STEP
    return np.where(hz >= SLANEY_BREAK_HZ, logarithmic, linear)


def mel_to_hz(mel: np.ndarray, scale: str) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    if scale == "htk":
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    if scale != "slaney":
        raise ValueError(f"unknown mel scale {scale!r}: use 'slaney' or 'htk'")
    break_mel = SLANEY_BREAK_HZ / SLANEY_HZ_PER_MEL
    return np.where(
        mel >= break_mel, SLANEY_BREAK_HZ * np.exp(SLANEY_LOG_STEP * (mel - break_mel)), SLANEY_HZ_PER_MEL * mel
    )


def mel_filterbank(spec: FrontendSpec) -> np.ndarray:
    """Triangular mel filters [n_freqs, n_mels] on the rfft bins of ``spec``.

    Triangles join n_mels + 2 points equally spaced in mel between f_min and f_max; with
    Slaney normalisation each is scaled to unit area (2 / its width in Hz), so a band's
    level does not grow with its width.
    """
    bins_hz = np.linspace(0.0, spec.sample_rate / 2, spec.n_freqs)
    edges = mel_to_hz(
        np.linspace(hz_to_mel(spec.f_min, spec.mel_scale), hz_to_mel(spec.f_max, spec.mel_scale), spec.n_mels + 2),
        spec.mel_scale,
    )
    widths = np.diff(edges)
    offsets = edges[None, :] - bins_hz[:, None]  # [n_freqs, n_mels + 2]
    rising = -offsets[:, :-2] / widths[:-1]
    falling = offsets[:, 2:] / widths[1:]
    filters = np.maximum(0.0, np.minimum(rising, falling))
    if spec.mel_norm == "slaney":
        filters *= 2.0 / (edges[2:] - edges[:-2])
    elif spec.mel_norm != "none":
        raise ValueError(f"unknown mel norm {spec.mel_norm!r}: use 'slaney' or 'none'")
    return filters.astype(np.float32)


def first_band_above(cut_hz: float, spec: FrontendSpec) -> int:
    """Index of the first mel band whose upper edge lies above ``cut_hz`` (n_mels: none):
    the bands a signal band-limited at ``cut_hz`` cannot fill."""
    if cut_hz >= spec.f_max:
        return spec.n_mels
    low, high = hz_to_mel(spec.f_min, spec.mel_scale), hz_to_mel(spec.f_max, spec.mel_scale)
    upper_edges = mel_to_hz(np.linspace(low, high, spec.n_mels + 2), spec.mel_scale)[2:]
    return int(np.searchsorted(upper_edges, cut_hz, side="right"))


def bands_kept(band_limit_hz: float, spec: FrontendSpec) -> int:
    """How many of the lowest mel bands a model limited at ``band_limit_hz`` looks at
    (CRNNConfig.band_limit_hz; 0 is no limit)."""
    return first_band_above(band_limit_hz, spec) if band_limit_hz > 0 else spec.n_mels


def power_to_db(power: np.ndarray) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(power, POWER_FLOOR))


class MelFrontend:
    """Log-mel columns of a spec, computed on the CPU with numpy."""

    device = "cpu"

    def __init__(self, spec: FrontendSpec):
        self.spec = spec
        # Float64 up to the dB: in float32 the FFT's rounding noise (≈1e-7 of a frame's
        # peak) moves bands 80–100 dB below the peak by hundredths of a dB.
        self.window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(spec.n_fft) / spec.n_fft)  # periodic Hann
        self.mel_filters = mel_filterbank(spec).astype(np.float64)

    def frames_power(self, frames: np.ndarray) -> np.ndarray:
        """Power spectra of windows of ``n_fft`` samples, [n, n_fft] → [n, n_fft/2 + 1]
        (float64): what the mel bands and the chroma (model/frontend/pitch.py) are both read from."""
        spectrum = np.fft.rfft(np.asarray(frames, dtype=np.float64) * self.window, n=self.spec.n_fft)
        return np.abs(spectrum) ** self.spec.power

    def power_db(self, power: np.ndarray) -> np.ndarray:
        """Absolute log-mel levels [n, n_mels] of power spectra from ``frames_power``."""
        return power_to_db(power @ self.mel_filters).astype(np.float32)

    def frames_db(self, frames: np.ndarray) -> np.ndarray:
        """Absolute log-mel levels of windows of ``n_fft`` samples, [n, n_fft] → [n, n_mels]."""
        return self.power_db(self.frames_power(frames))

    # The streaming engine keeps its context in the frontend's own arrays (numpy here,
    # device tensors in the torch frontend) through these four operations.
    def empty_context(self) -> np.ndarray:
        return np.empty((0, self.spec.n_mels), dtype=np.float32)

    def column_levels(self, power: np.ndarray) -> np.ndarray:
        """The levels of power spectra (from ``frames_power``) in the frontend's own
        array type: what ``append_columns`` takes."""
        return self.power_db(power)

    def append_columns(self, context: np.ndarray, levels: np.ndarray, keep: int) -> np.ndarray:
        """``context`` [T, M] with the columns ``levels`` (from ``column_levels``)
        appended, the newest ``keep`` kept."""
        return np.concatenate([context, levels])[-keep:]

    def relative_context(self, context: np.ndarray) -> np.ndarray:
        """The context re-referenced to its own maximum and floored, as the model expects."""
        return relative_db(context, self.spec.floor_db)

    def to_numpy(self, array: np.ndarray) -> np.ndarray:
        return array

    def hop_grid_db(self, audio: np.ndarray) -> np.ndarray:
        """Every frame of the hop grid (librosa center=True framing), absolute dB.

        Only the thumbnail recipe needs this: its reference is the maximum over all
        frames of the clip, not over the sampled columns.
        """
        n_frames = 1 + len(audio) // self.spec.hop_length
        centers = np.arange(n_frames) * self.spec.hop_length
        return self.frames_db(frame_windows(audio, centers, self.spec.n_fft))


def frame_windows(audio: np.ndarray, centers: np.ndarray, n_fft: int) -> np.ndarray:
    """Windows of ``n_fft`` samples centred on ``centers``, zero outside ``audio``."""
    half = n_fft // 2
    if len(centers) == 0:
        return np.empty((0, n_fft), dtype=np.float32)
    if centers.min() >= half and centers.max() + half <= len(audio):
        # Every window inside the audio (a stream's steady state, most of a file): no
        # padded copy of the audio. A stream's block completes one or two columns, and
        # slicing those is 5× faster than indexing a sliding view; a file's many are not.
        audio = np.asarray(audio, dtype=np.float32)
        if len(centers) <= 4:
            return np.array([audio[c - half : c - half + n_fft] for c in centers]).reshape(-1, n_fft)
        return sliding_window_view(audio, n_fft)[centers - half]
    padded = np.pad(np.asarray(audio, dtype=np.float32), (half, half))
    index = centers[:, None] + np.arange(n_fft)[None, :]
    return padded[np.clip(index, 0, len(padded) - 1)] * (index < len(padded))


def relative_db(columns_db: np.ndarray, floor_db: float, reference_db: float | None = None) -> np.ndarray:
    """Levels relative to ``reference_db`` (default: their own maximum), floored."""
    reference = float(np.max(columns_db)) if reference_db is None else reference_db
    relative = np.subtract(columns_db, reference, dtype=np.float32)
    return np.maximum(relative, floor_db, out=relative)
