"""The model card: what a model file must say about itself, stored as ONNX metadata.

The engine builds its frontend from the card and refuses a file without one: a model
fed with the wrong mel settings gives confident nonsense, which is worse than an error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genrescope.model.frontend.spec import FrontendSpec

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
    def from_metadata(cls, metadata: dict[str, str], source: str = "model") -> ModelCard:
        values = {k[len(PREFIX) :]: v for k, v in metadata.items() if k.startswith(PREFIX)}
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


def update_card(path: Path, card: ModelCard) -> None:
    """Rewrite the card inside the model file at ``path``."""
    update_metadata(path, card.to_metadata(), drop_prefix=PREFIX)


def update_metadata(path: Path, entries: dict[str, str], drop_prefix: str | None = None) -> None:
    """``replace_metadata`` on the model file at ``path``, in place."""
    import onnx

    model = onnx.load(str(path))
    replace_metadata(model, entries, drop_prefix)
    onnx.save(model, str(path))


def replace_metadata(model: onnx.ModelProto, entries: dict[str, str], drop_prefix: str | None = None) -> None:
    """Set ``entries`` in ``model``'s metadata, replacing those keys and, with
    ``drop_prefix``, every key that starts with it (entries a card no longer has)."""

    def dropped(key: str) -> bool:
        return key in entries or (drop_prefix is not None and key.startswith(drop_prefix))

    kept = [p for p in model.metadata_props if not dropped(p.key)]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in entries.items():
        model.metadata_props.add(key=key, value=value)
