"""The cover recipe: a frozen multi-scale descriptor and a per-set linear head."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("efficientnet_lite_pytorch")

from genrescope.model.cover.cover_net import CoverNet
from genrescope.model.cover.cover_spec import CoverSpec
from genrescope.training.cover.cover_config import CoverTrainConfig
from genrescope.training.cover.covers import CoverItem
from genrescope.training.cover.train_cover import accuracy_per_set, described, fit, set_masks

SPEC = CoverSpec(size=64)


@pytest.fixture(scope="module")
def net() -> CoverNet:
    return CoverNet(len(SPEC.labels), scales=(64, 32), pretrained=False)


def test_descriptor_reads_every_scale_and_forward_gives_probabilities(net):
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        features, probabilities = net.describe(x), net(x)
    assert features.shape == (3, net.feature_dim) and net.feature_dim == 2 * (2 * (80 + 112 + 192) + 1280)
    assert torch.isfinite(features).all()
    torch.testing.assert_close(probabilities.sum(1), torch.ones(3))
    assert not any(p.requires_grad for p in net.parameters())  # frozen; the head is fitted apart


def synthetic(net: CoverNet, n_per_label: int = 12) -> tuple:
    """Descriptors whose first dimensions encode the label, in groups of 3 covers."""
    items, rows = [], []
    generator = torch.Generator().manual_seed(0)
    for dataset, labels in SPEC.label_sets.items():
        for label in labels:
            for k in range(n_per_label):
                items.append(CoverItem(Path(f"{dataset}/{label}/{k}.jpg"), label, dataset, f"{dataset}{label}{k // 3}"))
                row = torch.randn(net.feature_dim, generator=generator)
                row[SPEC.labels.index(label)] += 4.0
                rows.append(row)
    return items, torch.stack(rows)


def test_head_learns_each_sets_task_over_its_own_labels(net):
    items, feats = synthetic(net)
    data = described(SPEC, items, feats)
    selection = fit(CoverTrainConfig(l2_grid=(1e-3, 1.0), inner_folds=3), net, SPEC, data)
    assert selection["l2"] in (1e-3, 1.0) and set(selection["l2_grouped_cv"]) == {"0.001", "1.0"}
    names, mask = set_masks(SPEC)
    with torch.no_grad():
        accuracy = accuracy_per_set(net.logits(data.feats), data, mask, names)
        union = net.logits(data.feats).argmax(1)
    assert accuracy == {"discogs5": 1.0, "spotify5": 1.0}
    # The union argmax of a clear cover is its own label, whichever set it came from.
    assert (union == data.labels).float().mean() > 0.95
