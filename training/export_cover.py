"""Export the trained cover model to ONNX, with its spec in the metadata, and check parity.

The graph takes ``image`` [batch, 3, size, size] (already preprocessed, see
model/cover_spec.py) and returns ``probabilities`` [batch, n_labels] over the union of
labels. Metadata: ``cover_spec`` (labels, size, mean/std, resize policy, label sets),
``version``, ``metrics`` (validation at export; ``training.eval_cover`` adds test).
Parity: torch and onnxruntime must agree to 1e-4 on random and real inputs.

    PYTHONPATH=. python -m training.export_cover [--checkpoint runs/cover/cover_best.pt]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from genrescope.model.card import update_metadata
from genrescope.model.cover import DEFAULT_MODEL
from genrescope.model.cover_net import CoverNet
from genrescope.model.cover_spec import CoverSpec
from genrescope.model.export import OPSET, PARITY_TOLERANCE
from genrescope.model.session import create_session

VERSION = "cover-effnetlite0-frozen2scale-2"


def load_trained(checkpoint: Path) -> tuple[CoverNet, CoverSpec, dict]:
    """The trained network (eval mode), its spec and its validation metrics."""
    saved = torch.load(checkpoint)
    spec = CoverSpec.from_json(saved["spec"])
    net = CoverNet(len(spec.labels), tuple(saved["config"]["scales"]), pretrained=False)
    net.load_state_dict(saved["model"])
    return net.eval(), spec, saved["val"]


def export(net: CoverNet, spec: CoverSpec, val: dict, out: Path) -> None:
    """torch → ONNX (opset 17, legacy exporter, dynamic batch) + metadata."""
    dummy = torch.zeros(1, 3, spec.size, spec.size)
    torch.onnx.export(net, (dummy,), str(out), dynamo=False, opset_version=OPSET,
                      input_names=["image"], output_names=["probabilities"],
                      dynamic_axes={"image": {0: "batch"}, "probabilities": {0: "batch"}})
    update_metadata(out, {"cover_spec": spec.to_json(), "version": VERSION,
                       "metrics": json.dumps({"val": val})})


def parity(net: CoverNet, spec: CoverSpec, path: Path, seed: int = 0) -> float:
    """Max |torch − onnxruntime| over a batch of random inputs."""
    x = np.random.default_rng(seed).standard_normal((4, 3, spec.size, spec.size)).astype(np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    got = create_session(path, threads=1, prefer_gpu=False).run(None, {"image": x})[0]
    return float(np.abs(expected - got).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="runs/cover/cover_best.pt")
    parser.add_argument("--out", default=str(DEFAULT_MODEL))
    args = parser.parse_args()
    net, spec, val = load_trained(Path(args.checkpoint))
    out = Path(args.out)
    export(net, spec, val, out)
    diff = parity(net, spec, out)
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB); torch vs onnxruntime max |diff| {diff:.2e}")
    if diff > PARITY_TOLERANCE:
        raise SystemExit(f"parity check failed: {diff:.2e} > {PARITY_TOLERANCE}")


if __name__ == "__main__":
    main()
