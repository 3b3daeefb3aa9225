"""Which mel frontend runs where: numpy on the CPU, torch on a GPU.

Its own module, above both implementations: the torch one builds on the numpy one, so the
choice between them can live in neither without an import loop.
"""

from __future__ import annotations

import logging

from genrescope.model.frontend.frontend import MelFrontend
from genrescope.model.frontend.spec import FrontendSpec

log = logging.getLogger(__name__)


def make_frontend(spec: FrontendSpec, device: str = "auto", model_on_gpu: bool = False) -> MelFrontend:
    """The frontend for ``device``: 'cpu' → numpy; 'cuda' → torch on the GPU (the ``[gpu]``
    extra); 'auto' → the GPU only beside a model whose session runs there
    (``model_on_gpu``): a GPU frontend feeding a CPU session would copy every context
    back, and asking torch for a GPU would cost its import (≈0.9 s, ≈500 MB) wherever
    torch is installed."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown frontend device {device!r}: use auto, cpu or cuda")
    if device == "auto":
        device = "cuda" if model_on_gpu else "cpu"
    if device == "cpu":
        log.info("mel frontend: numpy on the CPU")
        return MelFrontend(spec)
    try:
        from genrescope.model.frontend.frontend_torch import TorchMelFrontend
    except ImportError as error:
        raise RuntimeError(f"the GPU frontend needs torch (pip install 'genrescope[gpu]'): {error}") from error
    frontend = TorchMelFrontend(spec, device)
    log.info("mel frontend: torch on %s", frontend.device)
    return frontend
