"""One flat configuration for training the genre model, mapped 1:1 to CLI flags and YAML.

Every flag of ``genrescope train`` is a field here; ``--config run.yaml`` sets many at
once and explicit flags win. The run directory keeps the resolved config next to its
checkpoints, so a run can be resumed or reproduced from it alone.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import yaml

from genrescope.stream.checks import COUNT, NON_NEGATIVE, POSITIVE, SECONDS, SEED, SHARE, Number
from genrescope.stream.outputs import write_text_whole
from genrescope.training.settings import (
    ConfigError,
    add_setting_arguments,
    check_ranges,
    load_settings,
    setting,
    settings_from_arguments,
)

# The shared data: $GENRESCOPE_DATA, else ../shared/data beside the repository.
DEFAULT_DATA_ROOT = Path(os.environ.get("GENRESCOPE_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data")


def default_fourq_path() -> Path:
    """Where the built 4Q set lives: $GENRESCOPE_FOURQ, else the user's data folder (outside the repo)."""
    from platformdirs import user_data_dir

    return Path(os.environ.get("GENRESCOPE_FOURQ") or Path(user_data_dir("genrescope")) / "datasets" / "fourq.npz")


@dataclass
class TrainConfig:
    """Hyper-parameters and paths of one training run."""

    data_root: str = setting(str(DEFAULT_DATA_ROOT), "folder holding fma_small/ (the shared thumbnails)")
    source: str = setting(
        "thumbnails",
        "'thumbnails': the shared FMA-small log-mel images; 'audio': your own FMA "
        "download (fma_metadata/ + fma_small/...), decoded with the project's frontend",
    )
    fma_audio_root: str = setting("", "folder holding fma_metadata/ and fma_small/ (with --source audio)")
    run_dir: str = setting("runs/genre", "checkpoints, config and history go here; re-running resumes")
    seed: int = setting(0, "seeds the weights, batches, augmentation and the --training-artists sample")
    epochs: int = setting(40, "passes over the training tracks (cosine schedule over all of them)")
    batch_size: int = setting(32, "clips per step")
    lr: float = setting(1e-3, "peak learning rate of the new layers (AdamW)")
    backbone_lr_scale: float = setting(0.3, "the pretrained CNN's learning rate is --lr times this")
    weight_decay: float = setting(0.02, "AdamW weight decay")
    warmup_epochs: float = setting(1.0, "linear warm-up before the cosine decay")
    label_smoothing: float = setting(0.05, "share of each target spread evenly over all genres")
    crop_min_seconds: float = setting(
        3.0, "shortest training crop; each crop is re-referenced to its own maximum, as the streaming engine does"
    )
    crop_max_seconds: float = setting(30.0, "longest training crop (the whole clip)")
    crop_distribution: str = setting(
        "uniform",
        "crop lengths 'uniform' over [min, max] seconds, or 'log_uniform', "
        "which trains short contexts (a stream's first seconds) as often "
        "as long ones",
    )
    mixup_alpha: float = setting(0.4, "Beta(alpha, alpha) mixing weight of mixup")
    mixup_prob: float = setting(0.5, "share of batches mixed up")
    freq_masks: int = setting(2, "SpecAugment frequency masks per crop")
    freq_mask_bins: int = setting(16, "widest frequency mask, in mel bins")
    time_masks: int = setting(2, "SpecAugment time masks per crop")
    time_mask_fraction: float = setting(0.1, "widest time mask, as a share of the crop")
    eq_tilt_db: float = setting(
        6.0, "random spectral tilt: the lowest and highest mel bands move by up to this many dB, in opposite directions"
    )
    distill_weight: float = setting(
        0.0,
        "weight of distillation from the VGGish teacher's out-of-fold genre "
        "probabilities (training-only signal; 0 = off)",
    )
    distill_temperature: float = setting(2.0, "softening temperature of teacher and student in distillation")
    embedding_weight: float = setting(
        0.0,
        "weight of the auxiliary head regressing each clip's standardised "
        "VGGish embedding (training-only, dropped at export; 0 = off)",
    )
    ensemble_teachers: tuple[str, ...] = setting(
        (),
        "checkpoints (last.pt or best.pt) of networks trained on exactly "
        "this run's training clips, e.g. other seeds of its recipe; the "
        "student distils their averaged whole-clip probabilities, so a "
        "seed ensemble's knowledge costs one network at run time. In a "
        "cv recipe, {cv} and {fold} name the fold's own runs",
    )
    ensemble_weight: float = setting(
        0.0, "weight of distillation from --ensemble-teachers, at --distill-temperature (0 = off)"
    )
    production_share: float = setting(
        0.0,
        "share of crops sent through a random production chain (reverb, "
        "compression, band-limiting, noise floor; training/production.py)",
    )
    fourq_share: float = setting(
        0.0,
        "share of each batch drawn from the 4Q clips (commercial recordings outside "
        "FMA, built by `genrescope fourq-build`), learned with the set loss; 0 = off",
    )
    fourq_balanced: bool = setting(
        False,
        "draw the 4Q clips so that every single-genre set (Pop|Rock, Hip-Hop, "
        "Folk, ...) is drawn as often as any other, instead of uniformly",
    )
    fourq_weight: float = setting(1.0, "weight of the 4Q set loss beside the FMA loss (each is a mean over its rows)")
    fourq_path: str = setting(
        "", "the built 4Q set (default: $GENRESCOPE_FOURQ, else the user data folder's genrescope/datasets/fourq.npz)"
    )
    match_bandwidth: bool = setting(
        False,
        "cut every training crop at the measured bandwidth of a random 4Q clip (4Q crops "
        "at their own), so bandwidth tells nothing of the data set "
        "(training/genre/bandwidth.py)",
    )
    band_limit_hz: float = setting(
        0.0,
        "the network floors the mel bands reaching above this frequency, inside "
        "the exported model (0 = none; 12000 with the 4Q set: training/genre/bandwidth.py)",
    )
    pretrained: bool = setting(True, "start the CNN from ImageNet EfficientNet-Lite0 weights")
    training_artists: float = setting(
        1.0,
        "train on this share (0-1] of each genre's training artists, "
        "all their tracks of that genre (learning curves); 1 = all",
    )
    include_validation: bool = setting(
        False,
        "also learn from the validation split: the final model, once "
        "cross-validation has chosen the recipe. Nothing is held out, "
        "so no epoch is selected: the last epoch's weight average is kept",
    )
    validate_every: int = setting(
        1,
        "score the validation split every this many epochs (and always after the "
        "last); cross-validation scores only the last",
    )
    device: str = setting("auto", "'auto' (CUDA when present), 'cpu' or 'cuda'")
    threads: int = setting(2, "CPU threads for torch")

    def __post_init__(self) -> None:
        """Refuse out-of-range settings from YAML (flags are checked by argparse already)."""
        check_ranges(self, RANGES)
        if self.ensemble_weight > 0 and not self.ensemble_teachers:
            raise ConfigError("setting ensemble_weight needs ensemble_teachers: the checkpoints to distil")

    @property
    def uses_side_targets(self) -> bool:
        """Whether the run has training-only targets: the VGGish ones (distillation, the auxiliary
        head) or an ensemble's probabilities. They travel together (``SideTargets``)."""
        return self.distill_weight > 0 or self.embedding_weight > 0 or self.ensemble_weight > 0

    @property
    def resolved_fourq_path(self) -> Path:
        return Path(self.fourq_path) if self.fourq_path else default_fourq_path()

    @property
    def learned_splits(self) -> tuple[str, ...]:
        """The official splits the run learns from."""
        return ("training", "validation") if self.include_validation else ("training",)

    @property
    def cache_dir(self) -> Path:
        """Decoded data shared by every run beside this one (runs/cache by default)."""
        return Path(self.run_dir).parent / "cache"

    @property
    def best_checkpoint(self) -> Path:
        """The run's model at its best validation epoch, or its last with ``include_validation``
        (what `genrescope export` reads)."""
        return Path(self.run_dir) / "best.pt"

    def save(self, path: Path) -> None:
        write_text_whole(path, yaml.safe_dump(asdict(self), sort_keys=False))

    @classmethod
    def from_yaml(cls, path: Path) -> TrainConfig:
        """A user's YAML: an unknown setting is a typo, refused."""
        return load_settings(cls, path)

    @classmethod
    def from_checkpoint(cls, recorded: dict) -> TrainConfig:
        """The config a checkpoint recorded; settings retired since are ignored."""
        return cls(**{k: v for k, v in recorded.items() if k in cls.setting_names()})

    @classmethod
    def setting_names(cls) -> set[str]:
        return {f.name for f in fields(cls)}


# The range of every numeric setting: checked on the command line and in YAML alike.
RANGES: dict[str, Number] = {
    "seed": SEED,
    "epochs": COUNT,
    "batch_size": COUNT,
    "lr": POSITIVE,
    "backbone_lr_scale": NON_NEGATIVE,
    "weight_decay": NON_NEGATIVE,
    "warmup_epochs": NON_NEGATIVE,
    "label_smoothing": Number(float, low=0, below=1),
    "crop_min_seconds": SECONDS,
    "crop_max_seconds": SECONDS,
    "mixup_alpha": POSITIVE,
    "mixup_prob": SHARE,
    "freq_masks": Number(int, low=0),
    "freq_mask_bins": Number(int, low=0),
    "time_masks": Number(int, low=0),
    "time_mask_fraction": SHARE,
    "eq_tilt_db": NON_NEGATIVE,
    "distill_weight": NON_NEGATIVE,
    "distill_temperature": POSITIVE,
    "embedding_weight": NON_NEGATIVE,
    "ensemble_weight": NON_NEGATIVE,
    "training_artists": Number(float, above=0, high=1),
    "validate_every": COUNT,
    "threads": COUNT,
    "production_share": SHARE,
    "fourq_share": Number(float, low=0, below=1),
    "fourq_weight": NON_NEGATIVE,
    "band_limit_hz": NON_NEGATIVE,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per field (training/settings.py), each number range-checked (RANGES);
    defaults left unset so that YAML values are not overridden."""
    add_setting_arguments(parser, TrainConfig, RANGES)


def from_arguments(args: argparse.Namespace) -> TrainConfig:
    return settings_from_arguments(args, TrainConfig)
