"""How a cover image becomes model input, and the label sets the cover model knows.

The spec travels inside the ONNX file (metadata), so the runtime preprocesses exactly
as training did; training imports ``preprocess`` from here for the same reason.

Covers are square by convention (the data are 300×300), so the resize policy is a plain
squash to ``size``×``size``: no crop, nothing of the artwork is lost, and a rare
non-square image is only mildly distorted.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np
from PIL import Image

# The union of the two training sets' labels, in the model's output order.
DISCOGS5 = ("Country", "Electronic", "HipHop", "Pop", "Rock")
SPOTIFY5 = ("Classical", "Country", "HipHop", "Jazz", "Metal")
UNION_LABELS = tuple(sorted(set(DISCOGS5) | set(SPOTIFY5)))
LABEL_SETS: dict[str, tuple[str, ...]] = {"discogs5": DISCOGS5, "spotify5": SPOTIFY5}
# The sizes the backbone reads a cover at (model/cover/cover_net.py): the input size first, the
# backbone's own ImageNet size second. Both are multiples of 32, so Lite0's static "same"
# padding is identical and one backbone serves both.
SCALES = (320, 224)


@dataclass(frozen=True)
class CoverSpec:
    """Preprocessing and labels of a cover model; serialised into the model file."""

    size: int = SCALES[0]
    # EfficientNet-Lite's TF weights expect (x - 127) / 128, i.e. mean = std = 0.5 on [0, 1].
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    resize: str = "squash-bilinear"
    labels: tuple[str, ...] = UNION_LABELS
    label_sets: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(LABEL_SETS))

    def __post_init__(self) -> None:
        if self.resize != "squash-bilinear":
            raise ValueError(f"unknown resize policy {self.resize!r}")
        for name, subset in self.label_sets.items():
            unknown = set(subset) - set(self.labels)
            if unknown:
                raise ValueError(f"label set {name!r} has labels the model lacks: {unknown}")

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> CoverSpec:
        raw = json.loads(text)
        return cls(
            size=int(raw["size"]),
            mean=tuple(raw["mean"]),
            std=tuple(raw["std"]),
            resize=raw["resize"],
            labels=tuple(raw["labels"]),
            label_sets={k: tuple(v) for k, v in raw["label_sets"].items()},
        )


def preprocess(image: Image.Image, spec: CoverSpec) -> np.ndarray:
    """RGB image → float32 [3, size, size], normalised as the backbone was pretrained."""
    rgb = image.convert("RGB").resize((spec.size, spec.size), Image.BILINEAR)
    x = np.asarray(rgb, dtype=np.float32) / 255.0
    x = (x - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))
