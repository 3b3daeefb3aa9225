"""The genre model: a 2-D CNN over (mel, column) followed by a bidirectional GRU.

Input is ``mel_db`` [batch, time, n_mels]: log-mel levels relative to the context's
maximum, in [floor_db, 0] dB. The time axis is dynamic (1 … 128 columns and beyond), so
the same network serves a cold start after one second and a full 30 s context.

Why this shape: a column is one STFT frame every ≈0.234 s, so spectral shape within a
column carries most of the genre (timbre, register, noise), and the column sequence
carries arrangement. The CNN pools frequency hard and time gently (never below one step,
thanks to ceil-mode pooling); the GRU reads the remaining steps in both directions; an
attention pool weighs the steps so one quiet intro does not dilute a loud chorus.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class CRNNConfig:
    """Architecture of the genre CRNN (stored in the model file for reproducibility)."""

    n_mels: int = 128
    n_classes: int = 8
    channels: tuple[int, ...] = (32, 64, 128, 192)
    # (frequency, time) pooling after each stage.
    pools: tuple[tuple[int, int], ...] = ((2, 1), (2, 2), (2, 2), (2, 1))
    gru_hidden: int = 128
    dropout: float = 0.3
    floor_db: float = -80.0


class ConvStage(nn.Module):
    """Two 3×3 convolutions with batch norm and a residual 1×1 path, then max-pool."""

    def __init__(self, c_in: int, c_out: int, pool: tuple[int, int]):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.skip = nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))
        self.pool = nn.MaxPool2d(pool, ceil_mode=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(torch.relu(self.body(x) + self.skip(x)))


class GenreCRNN(nn.Module):
    """mel_db [B, T, M] → genre logits [B, n_classes]."""

    def __init__(self, config: CRNNConfig = CRNNConfig()):
        super().__init__()
        self.config = config
        stages, c_in = [], 1
        for c_out, pool in zip(config.channels, config.pools):
            stages.append(ConvStage(c_in, c_out, pool))
            c_in = c_out
        self.cnn = nn.Sequential(*stages)
        self.gru = nn.GRU(c_in, config.gru_hidden, batch_first=True, bidirectional=True)
        width = 2 * config.gru_hidden
        self.attention = nn.Linear(width, 1)
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(width, config.n_classes))

    def forward(self, mel_db: torch.Tensor) -> torch.Tensor:
        half_range = -self.config.floor_db / 2
        x = (mel_db.transpose(1, 2).unsqueeze(1) + half_range) / half_range  # [B,1,M,T] in [-1,1]
        x = self.cnn(x)  # [B, C, M', T']
        x = x.mean(dim=2).transpose(1, 2)  # [B, T', C]
        x, _ = self.gru(x)
        weights = torch.softmax(self.attention(x), dim=1)
        return self.head((weights * x).sum(dim=1))
