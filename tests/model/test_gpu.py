"""The GPU path (the ``[gpu]`` extra): the torch frontend on CUDA feeding onnxruntime's
CUDA provider through IO binding. Runs where torch sees a GPU and onnxruntime-gpu is
installed; skips elsewhere (no GPU was lent to this project's CI)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from genrescope.model.session import CUDA, GenreModel, cuda_present
from genrescope.stream.engine.engine import EngineConfig, GenreEngine
from genrescope.stream.sources.filesource import FileSource

pytestmark = pytest.mark.skipif(
    not (cuda_present() and CUDA in ort.get_available_providers()),
    reason="needs a CUDA GPU, torch with CUDA and onnxruntime-gpu (the [gpu] extra)",
)


def test_the_gpu_engine_runs_on_cuda_and_agrees_with_the_cpu_engine(test_model_path, music_clips):
    gpu = GenreEngine(GenreModel.load(test_model_path, prefer_gpu=True), EngineConfig(frontend_device="cuda"))
    cpu = GenreEngine(GenreModel.load(test_model_path, prefer_gpu=False), EngineConfig(frontend_device="cpu"))
    assert gpu.provider == CUDA and str(gpu.frontend.device).startswith("cuda") and gpu._bind
    on_gpu = [u.raw_probabilities for u in gpu.run(FileSource(music_clips[0]))]
    on_cpu = [u.raw_probabilities for u in cpu.run(FileSource(music_clips[0]))]
    assert len(on_gpu) == len(on_cpu) > 100
    np.testing.assert_allclose(on_gpu, on_cpu, atol=2e-3)  # float32 kernels differ between devices


def test_io_binding_reads_a_cuda_tensor_in_place(test_model_path):
    import torch

    model = GenreModel.load(test_model_path, prefer_gpu=True)
    x = torch.linspace(-80, 0, 43 * 128, device="cuda").reshape(1, 43, 128)
    np.testing.assert_allclose(model.logits_bound(x), model.logits(x.cpu().numpy()), atol=1e-4)
