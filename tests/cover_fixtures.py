"""A tiny stand-in cover model (ONNX, built with onnx.helper) for runtime and CLI tests.

It has the shipped model's interface and metadata but no learned weights: mean colour
→ linear → softmax, so a red image is confidently "Rock". Tests of plumbing then do not
depend on the trained file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from genrescope.model.cover.cover_spec import CoverSpec

SIZE = 32


def write_tiny_cover_model(path: Path) -> CoverSpec:
    """Write the stand-in model to ``path`` and return its spec."""
    spec = CoverSpec(size=SIZE)
    weights = np.zeros((3, len(spec.labels)), dtype=np.float32)
    weights[0, spec.labels.index("Rock")] = 4.0  # red channel → Rock
    weights[2, spec.labels.index("Jazz")] = 4.0  # blue channel → Jazz
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["image"], ["mean"], axes=[2, 3], keepdims=0),
            helper.make_node("MatMul", ["mean", "w"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
        ],
        "tiny_cover",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", len(spec.labels)])],
        [numpy_helper.from_array(weights, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in {
        "cover_spec": spec.to_json(),
        "version": "tiny-test",
        "metrics": json.dumps({"val": {}}),
    }.items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return spec
