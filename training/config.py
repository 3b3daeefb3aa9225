"""One flat configuration for training the genre model, mapped 1:1 to CLI flags and YAML.

Every flag of ``genrescope train`` is a field here; ``--config run.yaml`` sets many at
once and explicit flags win. The run directory keeps the resolved config next to its
checkpoints, so a run can be resumed or reproduced from it alone.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import yaml

DEFAULT_DATA_ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@dataclass
class TrainConfig:
    """Hyper-parameters and paths of one training run."""

    data_root: str = str(DEFAULT_DATA_ROOT)
    # "thumbnails": the shipped FMA-small log-mel images; "audio": a user's FMA download
    # (fma_metadata + fma_small/...) decoded with the project's frontend.
    source: str = "thumbnails"
    fma_audio_root: str = ""  # folder holding fma_metadata/ and fma_small/ (source=audio)
    run_dir: str = "runs/genre"
    seed: int = 0
    epochs: int = 40
    batch_size: int = 32
    lr: float = 1e-3
    backbone_lr_scale: float = 0.3  # the pretrained CNN learns slower than the new head
    weight_decay: float = 0.02
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.05
    # Crops: seconds of context, uniform over [min, max]; re-referenced to the crop max.
    crop_min_seconds: float = 3.0
    crop_max_seconds: float = 30.0
    # "uniform" over [min, max] seconds, or "log_uniform", which trains short contexts
    # (the first seconds of a stream) as often as long ones.
    crop_distribution: str = "uniform"
    mixup_alpha: float = 0.4
    mixup_prob: float = 0.5
    freq_masks: int = 2
    freq_mask_bins: int = 16
    time_masks: int = 2
    time_mask_fraction: float = 0.1
    eq_tilt_db: float = 6.0  # random spectral tilt, ± this many dB across the mel range
    pretrained: bool = True
    # Share of each genre's training artists to train on (learning curves); 1 = all.
    training_artists: float = 1.0
    device: str = "auto"  # auto → cuda when present
    threads: int = 2

    @property
    def cache_dir(self) -> Path:
        """Decoded data shared by every run beside this one (runs/cache by default)."""
        return Path(self.run_dir).parent / "cache"

    @property
    def best_checkpoint(self) -> Path:
        """The run's model at its best validation epoch (what `genrescope export` reads)."""
        return Path(self.run_dir) / "best.pt"

    def save(self, path: Path) -> None:
        path.write_text(yaml.safe_dump(asdict(self), sort_keys=False))

    @classmethod
    def from_yaml(cls, path: Path) -> "TrainConfig":
        """A user's YAML: an unknown setting is a typo, refused."""
        data = yaml.safe_load(path.read_text()) or {}
        unknown = set(data) - cls.setting_names()
        if unknown:
            raise ValueError(f"unknown settings in {path}: {sorted(unknown)}")
        return cls(**data)

    @classmethod
    def from_checkpoint(cls, recorded: dict) -> "TrainConfig":
        """The config a checkpoint recorded; settings retired since are ignored."""
        return cls(**{k: v for k, v in recorded.items() if k in cls.setting_names()})

    @classmethod
    def setting_names(cls) -> set[str]:
        return {f.name for f in fields(cls)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per field, defaults left unset so that YAML values are not overridden."""
    parser.add_argument("--config", type=Path, help="YAML file with any of the settings below")
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                                help=f"default {f.default}")
        else:
            kind = {"int": int, "float": float}.get(str(f.type), str)
            parser.add_argument(flag, type=kind, default=None, help=f"default {f.default}")


def from_arguments(args: argparse.Namespace) -> TrainConfig:
    config = TrainConfig.from_yaml(args.config) if args.config else TrainConfig()
    for f in fields(TrainConfig):
        value = getattr(args, f.name, None)
        if value is not None:
            setattr(config, f.name, value)
    return config
