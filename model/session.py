"""onnxruntime sessions: CUDA first, CPU fallback, and the truth about which one runs.

onnxruntime-gpu silently falls back to the CPU when CUDA libraries do not load, so the
provider is read back from ``session.get_providers()`` after creation and logged; the
*available* list says nothing about what will run. The CUDA and cuDNN libraries come
from the nvidia-* wheels that torch installs; ``onnxruntime.preload_dlls()`` loads them
before the session so the CUDA provider finds them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnxruntime as ort
from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidArgument, InvalidGraph, InvalidProtobuf

from genrescope.model.genre.card import ModelCard, ModelCardError

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

MODEL_DIR = Path(__file__).resolve().parent
DEFAULT_GENRE_MODEL = MODEL_DIR / "genre_crnn.onnx"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def cuda_present() -> bool:
    """Whether a CUDA device is usable (asked of torch, which ships the CUDA runtime)."""
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def create_session(model: str | Path | bytes, threads: int = 1, prefer_gpu: bool = True) -> ort.InferenceSession:
    """A session with CUDA first when a GPU is present, else the CPU; ``threads`` intra-op.

    The streaming path pins one thread: per-update work is small, and more threads add
    wake-up jitter to the p99 without lowering the p50.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    providers = [CPU]
    # The provider list first: asking torch imports it (≈0.9 s and ≈600 MB), which only a
    # CUDA build of onnxruntime could use.
    if prefer_gpu and CUDA in ort.get_available_providers() and cuda_present():
        if hasattr(ort, "preload_dlls"):
            ort.preload_dlls()
        providers = [CUDA, CPU]
    source = model if isinstance(model, bytes) else str(model)
    session = ort.InferenceSession(source, options, providers=providers)
    in_use = session.get_providers()[0]
    if providers[0] == CUDA and in_use != CUDA:
        log.warning("CUDA is present but onnxruntime fell back to %s (CUDA/cuDNN libraries did not load)", in_use)
    log.info("onnxruntime provider in use: %s", in_use)
    return session


def read_card(session: ort.InferenceSession, source: str) -> ModelCard:
    return ModelCard.from_metadata(session.get_modelmeta().custom_metadata_map, source)


def read_model_card(path: str | Path | None = None) -> ModelCard:
    """The card of a genre model file without starting onnxruntime: for a process that
    must know the model version and labels but forks the workers that run it."""
    path = Path(path) if path is not None else DEFAULT_GENRE_MODEL
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    import onnx  # here, not at the top: streaming never needs it (0.13 s to import)

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # protobuf's DecodeError and friends: not an ONNX file
        raise ModelCardError(f"{path} is not a valid ONNX model: {error}") from error
    return ModelCard.from_metadata({p.key: p.value for p in model.metadata_props}, str(path))


@dataclass
class GenreModel:
    """The exported genre CRNN with its card: ``mel_db`` [B, T, M] → probabilities."""

    session: ort.InferenceSession
    card: ModelCard
    path: str

    @classmethod
    def load(cls, path: str | Path | None = None, threads: int = 1, prefer_gpu: bool = True) -> GenreModel:
        path = Path(path) if path is not None else DEFAULT_GENRE_MODEL
        if not path.is_file():
            raise FileNotFoundError(f"model file not found: {path}")
        try:  # onnxruntime validates the graph as it loads it (the onnx checker costs 0.13 s to import)
            session = create_session(path, threads, prefer_gpu)
        except (InvalidProtobuf, InvalidGraph, InvalidArgument, Fail, OSError) as error:
            raise ModelCardError(f"{path} is not a valid ONNX model: {error}") from error
        return cls(session, read_card(session, str(path)), str(path))

    @property
    def provider(self) -> str:
        return self.session.get_providers()[0]

    @property
    def labels(self) -> tuple[str, ...]:
        return self.card.labels

    def logits(self, mel_db: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"mel_db": np.ascontiguousarray(mel_db, dtype=np.float32)})[0]

    def logits_bound(self, mel_db: torch.Tensor) -> np.ndarray:
        """Logits for a torch tensor through IO binding: no host round trip when the
        frontend's output already lives on the GPU the CUDA provider runs on."""
        tensor = mel_db.detach().float().contiguous()
        if tensor.is_cuda and self.provider != CUDA:
            tensor = tensor.cpu()
        binding = self.session.io_binding()
        device = "cuda" if tensor.is_cuda else "cpu"
        binding.bind_input(
            "mel_db", device, tensor.device.index or 0, np.float32, tuple(tensor.shape), tensor.data_ptr()
        )
        binding.bind_output("logits", "cpu")
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0]

    def probabilities(self, mel_db: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of ``mel_db``."""
        return self.calibrated(self.logits(mel_db))

    def calibrated(self, logits: np.ndarray) -> np.ndarray:
        """Softmax of the logits over the card's temperature."""
        return softmax(logits / self.card.temperature)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)
