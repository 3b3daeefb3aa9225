"""One file's whole-file genre estimate, or why there is none: what every tagger returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from genrescope.model.frontend.pitch import NO_KEY, KeyEstimate
from genrescope.stream.engine.events import ranked
from genrescope.stream.segments.smoother import Segment


class RunStopped(RuntimeError):
    """A tagging run that could not go on (a Ray cluster lost); finished files are kept."""


@dataclass(frozen=True)
class FileTags:
    """The whole-file estimate for one file, or why there is none."""

    path: str
    audio_seconds: float = 0.0
    probabilities: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    key: KeyEstimate = NO_KEY  # the whole file's key (model/frontend/pitch.py)
    segments: tuple[Segment, ...] = ()  # a long file's genre segments (stream.segments.tagging)

    @classmethod
    def from_mean(
        cls,
        path: str,
        audio_seconds: float,
        labels: tuple[str, ...],
        mean: np.ndarray,
        key: KeyEstimate = NO_KEY,
        segments: tuple[Segment, ...] = (),
    ) -> FileTags:
        """A whole-file estimate from its mean probabilities (4 decimals, as stored)."""
        return cls(
            path,
            audio_seconds,
            {g: round(float(p), 4) for g, p in zip(labels, mean, strict=True)},
            key=key,
            segments=segments,
        )

    @property
    def genre(self) -> str | None:
        return max(self.probabilities, key=self.probabilities.get) if self.probabilities else None

    def to_dict(self) -> dict:
        """JSON-ready; the key as its name ('A minor'), its tag form ('Am': ID3 TKEY,
        Vorbis KEY) and its confidence."""
        return {
            **asdict(self),
            "genre": self.genre,
            "key": self.key.name,
            "key_tag": self.key.tag,
            "key_confidence": round(self.key.confidence, 3),
            "segments": [s.to_json() for s in self.segments],
        }

    def text(self, top: int = 3) -> str:
        if self.error:
            return f"error: {self.error}"
        if not self.probabilities:
            return f"too short to tag ({self.audio_seconds:.1f} s)  {self.path}"
        best = ranked(self.probabilities.items())[:top]
        key = f"  key {self.key.name} ({self.key.confidence:.2f})" if self.key.key else ""
        return "  ".join(f"{genre} {p:.0%}" for genre, p in best) + f"{key}  {self.path}"
