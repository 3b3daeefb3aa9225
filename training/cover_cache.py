"""Augmented views of covers, pushed once through the frozen stem and cached.

Fine-tuning only touches the tail of the network, so the stem's output for a given
view never changes: computing it once per view turns each training epoch into a pass
through the last stages only (≈5× cheaper on a CPU). Randomness then comes from picking
one of ``views`` cached views per cover and epoch; view 0 is always the plain image,
which is also the only view of validation covers.

Augmentations respect what a cover is: a mildly scaled random crop (covers are framed
deliberately, so most of the layout must survive), near-square aspect, a little
brightness/contrast/saturation jitter (scans and screens differ). No flips: text and
logos read left to right and a cover is never upside down.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageEnhance
from rich.progress import track

from model.cover_net import CoverNet
from model.cover_spec import CoverSpec, preprocess
from training.covers import CoverItem


@dataclass(frozen=True)
class AugmentConfig:
    """Random-resized-crop and colour-jitter ranges."""

    scale: tuple[float, float] = (0.6, 1.0)  # crop area as a fraction of the image
    ratio: tuple[float, float] = (0.85, 1.18)  # crop aspect (width / height)
    jitter: float = 0.12  # brightness, contrast, saturation factors in 1 ± jitter


def augment(image: Image.Image, rng: np.random.Generator, cfg: AugmentConfig) -> Image.Image:
    """One random view of a cover: crop, then colour jitter."""
    w, h = image.size
    area = w * h * rng.uniform(*cfg.scale)
    aspect = np.exp(rng.uniform(np.log(cfg.ratio[0]), np.log(cfg.ratio[1])))
    cw = int(min(w, round(np.sqrt(area * aspect))))
    ch = int(min(h, round(np.sqrt(area / aspect))))
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    view = image.crop((x0, y0, x0 + cw, y0 + ch))
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        view = enhancer(view).enhance(rng.uniform(1 - cfg.jitter, 1 + cfg.jitter))
    return view


def _views(path: Path, n_views: int, spec: CoverSpec, rng: np.random.Generator,
           aug: AugmentConfig) -> list[np.ndarray]:
    image = Image.open(path).convert("RGB")
    return [preprocess(image, spec)] + [preprocess(augment(image, rng, aug), spec)
                                        for _ in range(n_views - 1)]


@torch.no_grad()
def stem_cache(net: CoverNet, items: list[CoverItem], n_views: int, spec: CoverSpec,
               seed: int, aug: AugmentConfig = AugmentConfig(), batch: int = 32,
               desc: str = "caching") -> torch.Tensor:
    """Stem features of every item's views: float16 [n_items, n_views, C, H, W]."""
    net.eval()
    rng = np.random.default_rng(seed)
    chunks = []
    for start in track(range(0, len(items), batch), description=desc):
        x = np.stack([v for it in items[start:start + batch]
                      for v in _views(it.path, n_views, spec, rng, aug)])
        h = net.stem(torch.from_numpy(x))
        chunks.append(h.half().reshape(-1, n_views, *h.shape[1:]))
    return torch.cat(chunks)


def cached(path: Path, make) -> torch.Tensor:
    """Load a tensor from ``path`` or make and save it (so a restarted job skips the work)."""
    if path.exists():
        return torch.load(path)
    value = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(value, path.with_suffix(".tmp"))
    path.with_suffix(".tmp").rename(path)
    return value
