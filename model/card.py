"""The model card: what a model file must say about itself, stored as ONNX metadata.

The engine builds its frontend from the card and refuses a file without one: a model
fed with the wrong mel settings gives confident nonsense, which is worse than an error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from model.spec import FrontendSpec

if TYPE_CHECKING:
    import onnx

PREFIX = "genrescope."
REQUIRED = ("labels", "frontend", "version")


class ModelCardError(ValueError):
    """A model file lacks the metadata genrescope needs to run it."""


@dataclass(frozen=True)
class ModelCard:
    labels: tuple[str, ...]
    frontend: FrontendSpec
    version: str
    temperature: float = 1.0  # logits are divided by this before the softmax
    architecture: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)  # data, split, selection
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_metadata(self) -> dict[str, str]:
        values = {
            "labels": json.dumps(list(self.labels)),
            "frontend": self.frontend.to_json(),
            "version": self.version,
            "temperature": repr(float(self.temperature)),
            "architecture": json.dumps(self.architecture, sort_keys=True),
            "training": json.dumps(self.training, sort_keys=True),
            "metrics": json.dumps(self.metrics, sort_keys=True),
        }
        return {PREFIX + k: v for k, v in values.items()}

    @classmethod
    def from_metadata(cls, metadata: dict[str, str], source: str = "model") -> "ModelCard":
        values = {k[len(PREFIX):]: v for k, v in metadata.items() if k.startswith(PREFIX)}
        missing = [k for k in REQUIRED if k not in values]
        if missing:
            raise ModelCardError(
                f"{source} has no genrescope metadata ({', '.join(PREFIX + k for k in missing)} missing): "
                "export it with `genrescope export` so the engine knows its labels and frontend"
            )
        try:
            return cls(
                labels=tuple(json.loads(values["labels"])),
                frontend=FrontendSpec.from_json(values["frontend"]),
                version=values["version"],
                temperature=float(values.get("temperature", "1.0")),
                architecture=json.loads(values.get("architecture", "{}")),
                training=json.loads(values.get("training", "{}")),
                metrics=json.loads(values.get("metrics", "{}")),
            )
        except (ValueError, TypeError) as error:
            raise ModelCardError(f"{source} has unreadable genrescope metadata: {error}") from error


def write_card(model: onnx.ModelProto, card: ModelCard) -> None:
    """Replace the genrescope entries of ``model``'s metadata with ``card``."""
    kept = [p for p in model.metadata_props if not p.key.startswith(PREFIX)]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in card.to_metadata().items():
        model.metadata_props.add(key=key, value=value)
