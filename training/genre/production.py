"""Production differences, imitated on log-mel crops: what a model trained on FMA-small's
amateur and independent recordings meets elsewhere.

Each crop given the chain gets, with its own random settings, in the power domain:

* **reverberation** — each column keeps a share of the previous one's energy (a room or
  a reverb send; at ≈0.234 s per column, a share of 0.6 is an RT60 of about 1.5 s);
* **dynamic-range compression** — each column's level is pulled towards the crop's
  mean level by up to 60 % (radio and modern mastering);
* **band-limiting** — everything above a cutoff between 7 and 16 kHz is removed, with a
  one-octave roll-off (low-bitrate MP3 stops near 11–16 kHz, FM broadcast at 15 kHz);
* **a noise floor** — pink-ish noise 35–65 dB below the crop's peak (tape, room,
  a live microphone).

A gain change is no augmentation here (every crop is re-referenced to its own maximum,
as the engine does), and the spectral tilt lives in ``augment.window_db``.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from scipy.signal import lfilter

from genrescope.model.frontend.frontend import hz_to_mel, mel_to_hz
from genrescope.model.frontend.spec import FrontendSpec

REVERB_SHARE = (0.0, 0.6)
COMPRESSION = (0.0, 0.6)
CUTOFF_HZ = (7_000.0, 16_000.0)
NOISE_DB = (-65.0, -35.0)


@cache  # once per spec, not once per batch
def band_centres_hz(spec: FrontendSpec) -> np.ndarray:
    """Centre frequency of each mel band (the peaks of the triangular filters)."""
    edges = np.linspace(hz_to_mel(spec.f_min, spec.mel_scale), hz_to_mel(spec.f_max, spec.mel_scale), spec.n_mels + 2)
    return mel_to_hz(edges[1:-1], spec.mel_scale)


def production_chain(db: np.ndarray, floor_db: float, centres_hz: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One crop [L, M] of relative dB, through a random production chain, re-referenced and floored."""
    power = 10.0 ** (db.astype(np.float64) / 10.0)
    share = rng.uniform(*REVERB_SHARE)
    power = lfilter([1.0], [1.0, -share], power, axis=0)  # power[t] += share * power[t - 1]
    level = 10.0 * np.log10(power.sum(1) + 1e-12)
    power *= 10.0 ** (-rng.uniform(*COMPRESSION) * (level - level.mean()) / 10.0)[:, None]
    cutoff = rng.uniform(*CUTOFF_HZ)
    octaves_above = np.log2(np.maximum(centres_hz, 1.0) / cutoff)
    power *= np.clip(1.0 - octaves_above, 0.0, 1.0) ** 4  # 0 one octave above the cutoff
    noise = 10.0 ** (rng.uniform(*NOISE_DB) / 10.0) * power.max() / np.sqrt(np.maximum(centres_hz, 50.0) / 50.0)
    power += noise[None, :] * rng.uniform(0.5, 1.5, power.shape)
    out = 10.0 * np.log10(power)
    return np.maximum(out - out.max(), floor_db).astype(np.float32)


def apply_production(
    x: np.ndarray, floor_db: float, share: float, spec: FrontendSpec, rng: np.random.Generator
) -> None:
    """Each crop of the batch [B, L, M], with probability ``share``, through its own chain (in place)."""
    if share <= 0:
        return
    centres = band_centres_hz(spec)
    for b in np.flatnonzero(rng.random(len(x)) < share):
        x[b] = production_chain(x[b], floor_db, centres, rng)
