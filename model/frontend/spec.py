"""The frontend spec: every number that turns audio into the model's input.

It travels inside each model file (ONNX metadata), so the engine builds exactly the
frontend a model was trained with. The defaults reproduce the FMA-small thumbnails the
shipped model learned from (see ../shared/README.md):

* a 2048-point Hann STFT on a 512-sample hop at 44.1 kHz, power 2, 128 Slaney mels
  from 0 Hz to Nyquist;
* dB relative to a reference maximum, floored 80 dB below it;
* **one** STFT frame per column, not an average: a 30 s clip has 1 + 30·44100 // 512 =
  2584 frames (librosa's center=True framing) drawn into 128 pixel columns, column i
  taking frame floor((i + 0.5) · 2584 / 128). So a column covers 2584 / 128 ≈ 20.2
  hops, i.e. ≈30 / 128 s ≈ 0.234 s, and 128 columns are the 30 s context.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields

THUMBNAIL_SECONDS = 30.0
THUMBNAIL_COLUMNS = 128


def _thumbnail_frames(sample_rate: int, hop_length: int) -> int:
    """STFT frames (librosa framing, center=True) in one 30 s thumbnail clip."""
    return 1 + int(THUMBNAIL_SECONDS * sample_rate) // hop_length


@dataclass(frozen=True)
class FrontendSpec:
    """How audio becomes model input; serialised into every model file."""

    sample_rate: int = 44_100
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    f_min: float = 0.0
    f_max: float = 22_050.0
    mel_scale: str = "slaney"
    mel_norm: str = "slaney"
    power: float = 2.0
    floor_db: float = -80.0
    # STFT frames per column: 2584 / 128 for 30 s at 44.1 kHz (see module docstring).
    frames_per_column: float = _thumbnail_frames(44_100, 512) / THUMBNAIL_COLUMNS
    context_columns: int = THUMBNAIL_COLUMNS

    def __post_init__(self) -> None:
        if self.sample_rate <= 0 or self.n_fft <= 0 or self.hop_length <= 0:
            raise ValueError("sample_rate, n_fft and hop_length must be positive")
        if not 0 <= self.f_min < self.f_max <= self.sample_rate / 2:
            raise ValueError("need 0 <= f_min < f_max <= sample_rate / 2")
        if self.floor_db >= 0:
            raise ValueError("floor_db is a level below the reference: it must be < 0")
        if self.frames_per_column <= 0 or self.context_columns <= 0:
            raise ValueError("frames_per_column and context_columns must be positive")

    @property
    def n_freqs(self) -> int:
        """Bins of the one-sided spectrum."""
        return self.n_fft // 2 + 1

    @property
    def column_seconds(self) -> float:
        """Time between two columns, i.e. between two engine updates (≈0.234 s)."""
        return self.frames_per_column * self.hop_length / self.sample_rate

    @property
    def context_seconds(self) -> float:
        """The longest context the model sees (≈30 s)."""
        return self.context_columns * self.column_seconds

    def column_frame(self, column: int) -> int:
        """Index, on the hop grid, of the STFT frame that column ``column`` samples."""
        return math.floor((column + 0.5) * self.frames_per_column)

    def column_center(self, column: int) -> int:
        """Sample at the centre of column ``column``'s STFT window."""
        return self.column_frame(column) * self.hop_length

    def samples_needed(self, column: int) -> int:
        """Samples that must have arrived before column ``column`` can be computed."""
        return self.column_center(column) + self.n_fft // 2

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FrontendSpec:
        """Parse a spec, refusing unknown or missing keys (a model from elsewhere)."""
        data = json.loads(text)
        names = {f.name for f in fields(cls)}
        if set(data) != names:
            raise ValueError(
                f"frontend spec keys differ: missing {sorted(names - set(data))}, unknown {sorted(set(data) - names)}"
            )
        return cls(**data)
