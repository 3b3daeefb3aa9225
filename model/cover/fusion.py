"""Late fusion of the audio model's genre probabilities with the cover model's.

The two models share only part of their vocabularies. The audio model knows the 8 FMA
genres; the cover model knows Classical, Country, Electronic, HipHop, Jazz, Metal, Pop,
Rock. The genres both speak about, mapped explicitly (FMA files Metal under Rock):

    cover Electronic → Electronic   cover HipHop → Hip-Hop   cover Pop → Pop
    cover Rock → Rock               cover Metal → Rock

Fusion is a weighted log-linear pool *within* those shared genres S, and leaves the
rest of the audio distribution alone — a cover says nothing about whether a track is
Folk or Instrumental, only how the shared genres compare:

    p_f(g | S) ∝ p_a(g | S)^(1−w) · p_c(g | S)^w          for g in S
    p_f(g)     = p_a(S) · p_f(g | S)    for g in S;      p_f(g) = p_a(g) otherwise

where p(· | S) renormalises over S and p_c(g | S) sums the cover labels mapped to g.
w = 0 is audio alone, w = 1 lets the cover alone rank the shared genres. The weight is
fitted on validation data by ``genrescope fit-fusion`` and stored in model/fusion.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

AUDIO_GENRES = ("Electronic", "Experimental", "Folk", "Hip-Hop", "Instrumental", "International", "Pop", "Rock")
COVER_TO_AUDIO = {"Electronic": "Electronic", "HipHop": "Hip-Hop", "Pop": "Pop", "Rock": "Rock", "Metal": "Rock"}
SHARED = tuple(sorted(set(COVER_TO_AUDIO.values())))
FUSION_FILE = Path(__file__).resolve().parents[1] / "fusion.json"
EPS = 1e-6  # floor on probabilities before taking logs: one confident model never vetoes


def cover_on_shared(cover: dict[str, float]) -> dict[str, float]:
    """Cover probabilities mapped onto the shared genres and renormalised over them."""
    mass = dict.fromkeys(SHARED, 0.0)
    for label, p in cover.items():
        if label in COVER_TO_AUDIO:
            mass[COVER_TO_AUDIO[label]] += p
    total = sum(mass.values())
    if total <= 0:
        return {g: 1.0 / len(SHARED) for g in SHARED}
    return {g: m / total for g, m in mass.items()}


def log_pool(audio: np.ndarray, cover: np.ndarray, weight: float) -> np.ndarray:
    """Log of the weighted log-linear pool of two distributions over the same genres (the
    last axis; any leading shape, so a fit scores many pairs at once)."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"fusion weight must lie in [0, 1], got {weight}")
    logits = (1 - weight) * np.log(np.maximum(audio, EPS)) + weight * np.log(np.maximum(cover, EPS))
    return logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)


def pool(audio_shared: dict[str, float], cover_shared: dict[str, float], weight: float) -> dict[str, float]:
    """Weighted log-linear pool of two distributions over the same genres."""
    genres = list(audio_shared)
    fused = np.exp(
        log_pool(np.array([audio_shared[g] for g in genres]), np.array([cover_shared[g] for g in genres]), weight)
    )
    return {g: float(p) for g, p in zip(genres, fused, strict=True)}


def fuse(audio: dict[str, float], cover: dict[str, float], weight: float) -> dict[str, float]:
    """Fused distribution over the audio model's genres (see the module docstring)."""
    shared_mass = sum(audio[g] for g in SHARED)
    if shared_mass <= 0:
        return dict(audio)
    audio_shared = {g: audio[g] / shared_mass for g in SHARED}
    fused_shared = pool(audio_shared, cover_on_shared(cover), weight)
    return {g: shared_mass * fused_shared[g] if g in fused_shared else p for g, p in audio.items()}


def fitted_weight(path: Path = FUSION_FILE) -> float | None:
    """The validation-fitted weight from model/fusion.json, or None before it is fitted."""
    if not path.exists():
        return None
    return float(json.loads(path.read_text())["weight"])
