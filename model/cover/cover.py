"""The shipped cover model at run time: ONNX file + onnxruntime, no torch needed.

Everything needed to use the file is inside it (metadata ``cover_spec``: labels, input
size, mean/std, resize policy, label sets; plus ``version`` and ``metrics``), so a newer
model file never silently meets stale preprocessing code.

The model's outputs are probabilities over the union of its training sets' labels.
Labels from different training sets (say Rock and Metal) were never contrasted during
training, so ``predict(..., label_set="discogs5")`` renormalises over one set's labels
when a caller wants exactly the distribution that set's metrics describe.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from PIL import Image

from genrescope.model.cover.cover_spec import CoverSpec, preprocess
from genrescope.model.session import create_session

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "cover_efficientnet_lite0.onnx"


@dataclass
class CoverModel:
    """An onnxruntime session plus the spec and metadata stored in the model file."""

    session: ort.InferenceSession
    spec: CoverSpec
    metadata: dict[str, str]

    @classmethod
    def load(cls, path: str | Path | None = None) -> CoverModel:
        """Open a cover model file (default: the one shipped in model/)."""
        path = Path(path) if path is not None else DEFAULT_MODEL
        if not path.exists():
            raise FileNotFoundError(f"cover model not found: {path}")
        session = create_session(path)  # CUDA first when usable; logs the provider in use
        meta = dict(session.get_modelmeta().custom_metadata_map)
        if "cover_spec" not in meta:
            raise ValueError(f"{path} has no cover_spec metadata; not a genrescope cover model")
        return cls(session, CoverSpec.from_json(meta["cover_spec"]), meta)

    @property
    def provider(self) -> str:
        return self.session.get_providers()[0]

    @property
    def version(self) -> str:
        return self.metadata.get("version", "")

    @property
    def metrics(self) -> dict[str, Any]:
        return json.loads(self.metadata.get("metrics", "{}"))

    def predict_batch(self, images: list[Image.Image]) -> np.ndarray:
        """Probabilities over ``spec.labels`` for each image: [n, n_labels]."""
        x = np.stack([preprocess(im, self.spec) for im in images])
        return self.session.run(None, {self.session.get_inputs()[0].name: x})[0]

    def predict(self, image: Image.Image, label_set: str | None = None) -> dict[str, float]:
        """Genre → probability, over all labels or renormalised over one training set's."""
        probs = self.predict_batch([image])[0]
        return restrict(dict(zip(self.spec.labels, probs.tolist(), strict=True)), self.labels_of(label_set))

    def labels_of(self, label_set: str | None) -> tuple[str, ...]:
        """The labels of a named training set (None: all labels)."""
        if label_set is None:
            return self.spec.labels
        if label_set not in self.spec.label_sets:
            raise ValueError(f"unknown label set {label_set!r}; known: {sorted(self.spec.label_sets)}")
        return self.spec.label_sets[label_set]


def restrict(probs: dict[str, float], labels: tuple[str, ...]) -> dict[str, float]:
    """Renormalise a distribution over a subset of its labels (the conditional)."""
    total = sum(probs[k] for k in labels)
    return {k: probs[k] / total for k in labels}
