"""The settings of the cover-side commands: cover training (and its cross-validation) and
the fusion fit, in the genre side's style (training/settings.py: one flag per setting,
``--config`` YAML). Torch-free, so that ``genrescope --help`` can list them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from genrescope.model.cover.cover_spec import SCALES
from genrescope.model.cover.fusion import FUSION_FILE
from genrescope.model.session import DEFAULT_GENRE_MODEL
from genrescope.stream.checks import COUNT, POSITIVE, SEED, Number
from genrescope.training.cover.covers import SplitConfig
from genrescope.training.genre.config import DEFAULT_DATA_ROOT
from genrescope.training.settings import setting


@dataclass
class CoverTrainConfig:
    """Everything that determines a cover training run (the flags of ``cover-train``)."""

    data_root: str = setting(str(DEFAULT_DATA_ROOT), "folder holding covers/discogs5 and covers/spotify6")
    run_dir: str = setting("runs/cover", "descriptor caches and results go here; re-running reuses the caches")
    scales: tuple[int, ...] = setting(
        SCALES, "sizes (px) the frozen backbone reads each cover at; the first is the model's input size"
    )
    seed: int = setting(0, "seeds the inner folds that choose the L2 strength")
    l2_grid: tuple[float, ...] = setting(
        (1e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0), "L2 strengths tried on the inner folds; the best mean accuracy wins"
    )
    inner_folds: int = setting(4, "group-wise (artist / release) folds of the training covers that choose the L2")
    lbfgs_iterations: int = setting(200, "L-BFGS iterations of each logistic-regression fit")
    threads: int = setting(2, "CPU threads for torch")
    splits: SplitConfig = field(default_factory=SplitConfig)  # the honest splits: fixed, recorded with the run


@dataclass(frozen=True)
class FusionFitConfig:
    """Inputs and knobs of the fit (the flags of ``fit-fusion``)."""

    data_root: str = setting(str(DEFAULT_DATA_ROOT), "folder holding fma_small/ and covers/")
    audio_model: str = setting(str(DEFAULT_GENRE_MODEL), "the genre model whose probabilities are fused")
    cover_model: str = setting("", "the cover model file (none: the shipped one)")
    out: str = setting(
        str(FUSION_FILE), "where the fitted weight and its scores go (the runtime reads model/fusion.json)"
    )
    pairings: int = setting(20, "times each track is paired with a random same-genre cover; scores are averaged")
    grid_step: float = setting(0.05, "spacing of the weights tried in [0, 1]")
    seed: int = setting(0, "seeds the cover draws")


# The range of every numeric setting, checked on the command line.
COVER_RANGES = {
    "scales": Number(int, low=32),
    "seed": SEED,
    "l2_grid": POSITIVE,
    "inner_folds": Number(int, low=2),
    "lbfgs_iterations": COUNT,
    "threads": COUNT,
}
FUSION_RANGES = {"pairings": COUNT, "grid_step": Number(float, above=0, high=1), "seed": SEED}
