"""``genrescope cover-export``: the trained cover model to ONNX, spec in the metadata, parity-checked.

The graph takes ``image`` [batch, 3, size, size] (already preprocessed, see
model/cover/cover_spec.py) and returns ``probabilities`` [batch, n_labels] over the union of
labels. Metadata: ``cover_spec`` (labels, size, mean/std, resize policy, label sets),
``version``, ``metrics`` (validation at export; ``cover-evaluate`` adds test). Parity:
torch and onnxruntime must agree to 1e-4 on a batch of random inputs, through the same
exporter and check as the genre model (model/genre/export.py).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from genrescope.model.cover.cover_net import CoverNet
from genrescope.model.cover.cover_spec import CoverSpec
from genrescope.model.genre.export import check_parity, export_onnx
from genrescope.stream.outputs import replacing


def load_trained(checkpoint: Path) -> tuple[CoverNet, CoverSpec, dict]:
    """The trained network (eval mode), its spec and its validation metrics."""
    saved = torch.load(checkpoint)
    spec = CoverSpec.from_json(saved["spec"])
    net = CoverNet(len(spec.labels), tuple(saved["config"]["scales"]), pretrained=False)
    net.load_state_dict(saved["model"])
    return net.eval(), spec, saved["val"]


def export(net: CoverNet, spec: CoverSpec, val: dict, out: Path, version: str) -> float:
    """Write the ONNX file (dynamic batch) with its metadata; returns the parity difference."""
    export_onnx(
        net,
        torch.zeros(1, 3, spec.size, spec.size),
        out,
        ("image", "probabilities"),
        {"image": {0: "batch"}, "probabilities": {0: "batch"}},
        {"cover_spec": spec.to_json(), "version": version, "metrics": json.dumps({"val": val})},
    )
    x = np.random.default_rng(0).standard_normal((4, 3, spec.size, spec.size)).astype(np.float32)
    return check_parity(net, out, [x])


def run_cover_export(args: argparse.Namespace) -> int:
    """``genrescope cover-export``."""
    net, spec, val = load_trained(args.checkpoint)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with replacing(args.out) as out:
        diff = export(net, spec, val, out, args.version)
    print(f"wrote {args.out} ({args.out.stat().st_size / 2**20:.1f} MiB); torch vs onnxruntime max |diff| {diff:.2e}")
    return 0
