"""The mel frontend on torch, for a GPU (the ``[gpu]`` extra): the same columns as
``model/frontend/frontend.py``, kept on the device where the CUDA execution provider reads them.

It shares the numpy frontend's mel filters (``mel_filterbank``, tested against librosa)
and computes in float64 up to the dB, as the numpy frontend does, so the two agree to
1e-3 dB (tests/model/test_frontend.py) and the model cannot tell them apart.
"""

from __future__ import annotations

import numpy as np
import torch

from genrescope.model.frontend.frontend import POWER_FLOOR, MelFrontend
from genrescope.model.frontend.spec import FrontendSpec


def default_device() -> torch.device:
    """The GPU when there is one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class TorchMelFrontend(MelFrontend):
    """``MelFrontend`` whose FFT and mel projection run in torch on ``device``."""

    def __init__(self, spec: FrontendSpec, device: torch.device | str | None = None):
        super().__init__(spec)
        self.device = torch.device(device) if device is not None else default_device()
        self.torch_window = torch.from_numpy(self.window).to(self.device)
        self.torch_filters = torch.from_numpy(self.mel_filters).to(self.device)

    def frames_power(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Power spectra [n, n_fft/2 + 1] (float64), left on the frontend's device."""
        x = torch.as_tensor(frames, device=self.device).double()
        return torch.fft.rfft(x * self.torch_window, n=self.spec.n_fft).abs().pow(self.spec.power)

    def power_db_tensor(self, power: torch.Tensor) -> torch.Tensor:
        """Absolute log-mel levels [n, n_mels] (float32), left on the frontend's device."""
        return (10.0 * torch.log10((power @ self.torch_filters).clamp_min(POWER_FLOOR))).float()

    def power_db(self, power: torch.Tensor) -> np.ndarray:
        return self.power_db_tensor(power).cpu().numpy()

    def empty_context(self) -> torch.Tensor:
        return torch.empty(0, self.spec.n_mels, device=self.device)

    def column_levels(self, power: torch.Tensor) -> torch.Tensor:
        return self.power_db_tensor(power)

    def append_columns(self, context: torch.Tensor, levels: torch.Tensor, keep: int) -> torch.Tensor:
        return torch.cat([context, levels])[-keep:]

    def relative_context(self, context: torch.Tensor) -> torch.Tensor:
        return (context - context.max()).clamp_min(self.spec.floor_db)

    def to_numpy(self, array: torch.Tensor) -> np.ndarray:
        return array.cpu().numpy()
