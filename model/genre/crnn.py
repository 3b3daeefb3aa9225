"""The genre model: EfficientNet-Lite0 over (mel, column), then a bidirectional GRU.

Input is ``mel_db`` [batch, time, n_mels]: log-mel levels relative to the context's
maximum, in [floor_db, 0] dB (both numbers are the frontend spec's, which the model file
carries, not settings of the network). The time axis is dynamic (1 … 128 columns and
beyond), so one network serves a cold start after one second and a full 30 s context.

Why this shape: a column is one STFT frame every ≈0.234 s, so the spectral shape inside
a column carries most of the genre (timbre, register, noise) and the column sequence
carries arrangement. The ImageNet-pretrained CNN (the lesson of the FMA seed project:
pretrained image features beat from-scratch ones on 6k clips) reduces frequency 32×
but time only 16×; its frequency positions are kept (flattened, not averaged) because
register matters for genre; the GRU reads the steps in both directions and an attention
pool weighs them, so a quiet intro does not dilute a loud chorus.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
from torch import nn

from genrescope.model.frontend.frontend import bands_kept
from genrescope.model.frontend.spec import FrontendSpec
from genrescope.model.genre.efficientnet_lite import FREQ_STRIDE, OUT_CHANNELS, EfficientNetLite0Features


@dataclass(frozen=True)
class CRNNConfig:
    """Architecture of the genre CRNN (stored in the model file for reproducibility)."""

    n_classes: int = 8
    # Stem and the four stride-2 stages: which of them also halve time (16× in all).
    time_strides: tuple[bool, ...] = (True, True, True, True, False)
    projection: int = 256
    gru_hidden: int = 128
    dropout: float = 0.3
    drop_path: float = 0.2
    # Mel bands reaching above this frequency are floored inside the network (0 = none):
    # the model then hears a full-band stream and a band-limited one alike
    # (training/genre/bandwidth.py says why).
    band_limit_hz: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, recorded: dict) -> CRNNConfig:
        """The config a checkpoint recorded; keys it no longer has (``n_mels`` and
        ``floor_db``, now the frontend spec's) are ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: tuple(v) if k == "time_strides" else v for k, v in recorded.items() if k in names})


class GenreCRNN(nn.Module):
    """mel_db [B, T, M] → genre logits [B, n_classes]."""

    def __init__(self, config: CRNNConfig = CRNNConfig(), spec: FrontendSpec = FrontendSpec()):
        super().__init__()
        if spec.n_mels % FREQ_STRIDE:
            raise ValueError(f"n_mels must be a multiple of {FREQ_STRIDE}")
        self.config = config
        self.floor_db = spec.floor_db
        self.cnn = EfficientNetLite0Features(config.time_strides, config.drop_path)
        self.projection = nn.Sequential(
            nn.Linear(OUT_CHANNELS * spec.n_mels // FREQ_STRIDE, config.projection),
            nn.ReLU(inplace=True),
            nn.Dropout(config.dropout),
        )
        self.gru = nn.GRU(config.projection, config.gru_hidden, batch_first=True, bidirectional=True)
        width = 2 * config.gru_hidden
        self.attention = nn.Linear(width, 1)
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(width, config.n_classes))
        kept = torch.arange(spec.n_mels) < bands_kept(config.band_limit_hz, spec)
        self.register_buffer("kept_bands", kept, persistent=False)

    @property
    def pooled_width(self) -> int:
        """Width of the attention-pooled clip vector the genre head reads."""
        return 2 * self.config.gru_hidden

    def pooled(self, mel_db: torch.Tensor) -> torch.Tensor:
        """The clip vector [B, pooled_width] before the genre head; training-only heads
        (the embedding regression) read it too, and are not part of the exported graph."""
        half_range = -self.floor_db / 2
        mel_db = torch.where(self.kept_bands, mel_db, torch.full_like(mel_db, self.floor_db))
        x = (mel_db.transpose(1, 2).unsqueeze(1) + half_range) / half_range  # [B,1,M,T] in [-1,1]
        x = self.cnn(x)  # [B, C, M/32, T/16]
        x = self.projection(x.permute(0, 3, 1, 2).flatten(2))  # [B, T/16, C·M/32] → [B, T/16, P]
        x, _ = self.gru(x)
        weights = torch.softmax(self.attention(x), dim=1)
        return (weights * x).sum(dim=1)

    def forward(self, mel_db: torch.Tensor) -> torch.Tensor:
        return self.head(self.pooled(mel_db))
