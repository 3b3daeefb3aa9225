"""Log-mel frontend on torch/torchaudio: audio → absolute dB columns.

The model never sees a full STFT: each column is a single STFT frame (see spec.py), so
the streaming path computes one 2048-point FFT per update and nothing else. Offline
paths gather every column of a file in one batched call. Both go through
``MelFrontend.columns_db`` so they agree to the last bit.

Levels here are *absolute* dB (10·log10 power). Referencing them to a maximum and
flooring them (``relative_db``) is a separate step because the reference depends on the
context: the whole clip for the thumbnails, the context seen so far when streaming.
"""

from __future__ import annotations

import numpy as np
import torch
import torchaudio.functional as AF

from model.spec import FrontendSpec

# Power below this (≈ −100 dB re full scale²) is treated as this, so silence gives a
# finite level instead of −inf.
POWER_FLOOR = 1e-10


def default_device() -> torch.device:
    """The GPU when there is one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class MelFrontend:
    """Computes log-mel columns for a spec, on a chosen device."""

    def __init__(self, spec: FrontendSpec, device: torch.device | str | None = None):
        self.spec = spec
        self.device = torch.device(device) if device is not None else default_device()
        self.window = torch.hann_window(spec.n_fft, periodic=True, device=self.device)
        self.mel_filters = AF.melscale_fbanks(
            n_freqs=spec.n_freqs,
            f_min=spec.f_min,
            f_max=spec.f_max,
            n_mels=spec.n_mels,
            sample_rate=spec.sample_rate,
            norm=spec.mel_norm if spec.mel_norm != "none" else None,
            mel_scale=spec.mel_scale,
        ).to(self.device)

    def frames_db_tensor(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Absolute log-mel levels of windows of ``n_fft`` samples, [n, n_fft] → [n, n_mels],
        left on the frontend's device (the engine keeps its context there)."""
        x = torch.as_tensor(frames, dtype=torch.float32, device=self.device)
        spectrum = torch.fft.rfft(x * self.window, n=self.spec.n_fft)
        power = spectrum.abs().pow(self.spec.power)
        mel = power @ self.mel_filters
        return 10.0 * torch.log10(mel.clamp_min(POWER_FLOOR))

    def frames_db(self, frames: np.ndarray | torch.Tensor) -> np.ndarray:
        """``frames_db_tensor`` as a numpy array."""
        return self.frames_db_tensor(frames).cpu().numpy()

    def columns_db(self, audio: np.ndarray, first: int, count: int) -> np.ndarray:
        """Columns ``first`` … ``first+count-1`` of mono ``audio`` (spec rate), absolute dB.

        Windows reaching past either end of ``audio`` are zero-padded, as librosa's
        ``center=True`` framing does at the start of a clip.
        """
        centers = np.array([self.spec.column_center(c) for c in range(first, first + count)])
        return self.frames_db(frame_windows(audio, centers, self.spec.n_fft))

    def all_columns_db(self, audio: np.ndarray) -> np.ndarray:
        """Every column whose centre lies inside ``audio``: [T, n_mels] absolute dB."""
        return self.columns_db(audio, 0, count_columns(self.spec, len(audio)))

    def hop_grid_db(self, audio: np.ndarray) -> np.ndarray:
        """Every frame of the hop grid (librosa center=True framing), absolute dB.

        Only the thumbnail recipe needs this: its reference is the maximum over all
        frames of the clip, not over the sampled columns.
        """
        n_frames = 1 + len(audio) // self.spec.hop_length
        centers = np.arange(n_frames) * self.spec.hop_length
        return self.frames_db(frame_windows(audio, centers, self.spec.n_fft))


def count_columns(spec: FrontendSpec, n_samples: int) -> int:
    """How many columns have their centre inside ``n_samples`` samples."""
    n_frames = 1 + n_samples // spec.hop_length
    count = int(n_frames / spec.frames_per_column)
    while spec.column_frame(count) < n_frames:
        count += 1
    while count and spec.column_frame(count - 1) >= n_frames:
        count -= 1
    return count


def frame_windows(audio: np.ndarray, centers: np.ndarray, n_fft: int) -> np.ndarray:
    """Windows of ``n_fft`` samples centred on ``centers``, zero outside ``audio``."""
    half = n_fft // 2
    padded = np.pad(np.asarray(audio, dtype=np.float32), (half, half))
    index = centers[:, None] + np.arange(n_fft)[None, :]
    return padded[np.clip(index, 0, len(padded) - 1)] * (index < len(padded))


def relative_db(columns_db: np.ndarray, floor_db: float, reference_db: float | None = None) -> np.ndarray:
    """Levels relative to ``reference_db`` (default: their own maximum), floored."""
    reference = float(np.max(columns_db)) if reference_db is None else reference_db
    return np.maximum(columns_db - reference, floor_db).astype(np.float32)
