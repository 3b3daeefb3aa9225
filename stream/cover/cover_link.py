"""A streamed file's cover art beside its audio: the cover model runs once, up front.

The cover is read and classified before the stream starts, never on the real-time
path; each update then carries the late fusion of the live audio probabilities with
the fixed cover probabilities (model/cover/fusion.py, weight fitted on validation).
"""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PIL import Image

from genrescope.stream.engine.events import GenreUpdate

log = logging.getLogger(__name__)
PREVIEW_PIXELS = 256


@dataclass(frozen=True)
class CoverLink:
    image_uri: str  # a small JPEG preview as a data: URI, for the dashboard
    probabilities: dict[str, float]
    weight: float

    def hello_extra(self) -> dict[str, Any]:
        """The cover panel of ``hello``; the fused estimate comes with each update (it needs audio)."""
        return {
            "cover": {
                "image": self.image_uri,
                "labels": list(self.probabilities),
                "probabilities": self.probabilities,
                "fusion_weight": self.weight,
            }
        }

    def attach(self, updates: Iterator[GenreUpdate]) -> Iterator[GenreUpdate]:
        """The updates, each with its fused estimate."""
        from genrescope.model.cover.fusion import fuse

        for update in updates:
            audio = dict(zip(update.labels, update.probabilities, strict=True))
            yield replace(update, fused=fuse(audio, self.probabilities, self.weight))


def link_cover(path: Path) -> CoverLink | None:
    """The cover link of an audio file, or None when it has no usable embedded artwork."""
    from genrescope.model.cover.cover import CoverModel
    from genrescope.model.cover.fusion import fitted_weight
    from genrescope.stream.cover.artwork import ArtworkError, extract_artwork

    try:
        image = extract_artwork(path)
    except ArtworkError as error:
        log.warning("no cover panel: %s", error)
        return None
    weight = fitted_weight()
    if image is None or weight is None:
        return None
    probabilities = CoverModel.load().predict(image)
    return CoverLink(_preview(image), probabilities, weight)


def _preview(image: Image.Image) -> str:
    preview = image.convert("RGB")
    preview.thumbnail((PREVIEW_PIXELS, PREVIEW_PIXELS))
    buffer = io.BytesIO()
    preview.save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
