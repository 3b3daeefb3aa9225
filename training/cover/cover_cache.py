"""Cover descriptors, computed once through the frozen backbone and cached on disk.

The backbone never changes during training, so each cover's descriptor is computed once
(≈ 0.1 s per cover on one CPU core at two scales) and every fit after that — the head,
its regularisation search, each cross-validation fold — works on the cached matrix.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from rich.progress import track

from genrescope.model.cover.cover_net import CoverNet
from genrescope.model.cover.cover_spec import CoverSpec, preprocess
from genrescope.stream.cover.artwork import open_rgb
from genrescope.stream.outputs import written_whole
from genrescope.training.cover.covers import CoverItem


@torch.no_grad()
def describe_covers(
    net: CoverNet, items: list[CoverItem], spec: CoverSpec, batch: int = 32, desc: str = "describing covers"
) -> torch.Tensor:
    """Descriptors [n_items, feature_dim] of the covers, preprocessed as the runtime does."""
    net.eval()
    chunks = []
    for start in track(range(0, len(items), batch), description=desc):
        x = np.stack([preprocess(open_rgb(it.path), spec) for it in items[start : start + batch]])
        chunks.append(net.describe(torch.from_numpy(x)))
    return torch.cat(chunks)


def cached(path: Path, make) -> torch.Tensor:
    """Load a tensor from ``path`` or make and save it (so a restarted job skips the work)."""
    if path.exists():
        return torch.load(path)
    value = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    with written_whole(path, "wb") as out:
        torch.save(value, out)
    return value
