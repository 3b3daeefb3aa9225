"""The command-line definitions of every training-side command: the genre model's
(``train``, ``cv``, ``export``, ``evaluate``, ``compare``, ``learning-curve``), the cover
model's (``cover-train``, ``cover-cv``, ``cover-anchor``, ``cover-export``,
``cover-evaluate``) and the fusion fit (``fit-fusion``).

They live apart from the code they run so that building the parser imports no torch:
``genrescope --help`` (and every command that is not training) starts in a fraction of
a second. Each handler imports its module when the command runs. Settings of a run
(train, cover-train, cover-cv, fit-fusion) are dataclass fields, one flag each, which a
``--config`` YAML can set too (training/settings.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from genrescope.model.cover.cover import DEFAULT_MODEL as DEFAULT_COVER_MODEL
from genrescope.model.session import DEFAULT_GENRE_MODEL, MODEL_DIR
from genrescope.stream.checks import COUNT, SEED, Number, output_file, output_folder
from genrescope.training.command_parts import command, runs, scoring_options
from genrescope.training.cover.cover_config import COVER_RANGES, FUSION_RANGES, CoverTrainConfig, FusionFitConfig
from genrescope.training.fourq_commands import add_fourq_commands
from genrescope.training.genre.config import DEFAULT_DATA_ROOT, TrainConfig
from genrescope.training.genre.config import add_arguments as add_train_arguments
from genrescope.training.settings import add_setting_arguments

DEFAULT_CHECKPOINT = TrainConfig().best_checkpoint  # where `genrescope train` keeps its best epoch
MODEL_VERSION = "genre-crnn-effl0-2.1-embed-int8"  # what the next export writes into the card
PRECISIONS = ("int8", "float32")
COVER_RUN_DIR = Path(CoverTrainConfig().run_dir)
COVER_MODEL_VERSION = "cover-effnetlite0-frozen2scale-2"  # what the next cover export writes


def add_commands(commands: argparse._SubParsersAction) -> None:
    add_genre_commands(commands)
    add_cover_commands(commands)


def add_genre_commands(commands: argparse._SubParsersAction) -> None:
    train = command(
        commands,
        "train",
        "train the genre model on FMA-small",
        "Train the genre CRNN (CPU by default, CUDA when present).\n"
        "Re-running the same command resumes from the last epoch.",
        "example (the shipped model's run: 20 epochs of 1-4 min each on 2 CPU cores):\n"
        "  genrescope train --config training/recipes/embed_heavy.yaml --run-dir runs/genre-embed-heavy \\\n"
        "      --validate-every 2\n"
        "  genrescope export runs/genre-embed-heavy/best.pt && genrescope evaluate",
    )
    add_train_arguments(train)
    train.set_defaults(handler=runs("genrescope.training.genre.train", "run_train"))

    cv = command(
        commands,
        "cv",
        "rank training recipes by artist-grouped cross-validation",
        "Train each recipe (a YAML of train settings) K times over training + validation, one fold of whole "
        "artists held out each time, on folds drawn once and stored; prints mean ± sd and writes summary.json. "
        "Resumable: re-run the same command. Never reads the test split.",
        "example (every recipe in training/recipes, 4 folds, 6 epochs each, in the background):\n"
        "  nohup genrescope cv --folds 4 --epochs 6 --out runs/cv > runs/cv.log &",
    )
    cv.add_argument("recipes", nargs="*", type=Path, help="recipe YAML files (default: every training/recipes/*.yaml)")
    cv.add_argument("--folds", type=Number(int, low=2), default=5, help="number of artist folds (default 5)")
    cv.add_argument("--epochs", type=COUNT, default=None, help="override every recipe's epochs (a CV budget)")
    cv.add_argument("--seed", type=SEED, default=0, help="seed of the fold draw (default 0)")
    cv.add_argument(
        "--threads",
        type=COUNT,
        default=2,
        help="CPU threads for torch (default 2; 1 when several "
        "runs share the cores: two threads then wait on each "
        "other at every operation)",
    )
    cv.add_argument(
        "--only-folds",
        type=Number(int, low=0),
        nargs="+",
        default=None,
        metavar="K",
        help="train these folds only and stop before the summary: two such runs on other folds "
        "share the cores (then run once more without it to summarise)",
    )
    cv.add_argument(
        "--out", type=output_folder, default=Path("runs/cv"), help="folds, runs and summary (default runs/cv)"
    )
    cv.add_argument(
        "--data-root", type=Path, default=None, help=f"folder holding fma_small/ (default {DEFAULT_DATA_ROOT})"
    )
    cv.add_argument(
        "--record",
        type=Path,
        default=None,
        help="also merge the summary into this metrics file's 'cv' block (e.g. model/metrics.json)",
    )
    cv.add_argument("--ships", default=None, help="with --record: the recipe the shipped model was trained with")
    cv.add_argument(
        "--ensemble",
        nargs="+",
        default=None,
        metavar="RECIPE",
        help="also score these recipes' (file stems') averaged probabilities per fold, like a recipe: "
        "a seed or recipe ensemble",
    )
    cv.set_defaults(handler=runs("genrescope.training.genre.cv", "run_cv"))

    export = command(
        commands,
        "export",
        "export a checkpoint to ONNX with its model card",
        "Export to ONNX (float32, parity-checked against torch), quantize to int8, fit the temperature on "
        "validation (or, for a model that learned from validation, take it from --calibration-from), write the card.",
        "examples (the shipped model: the recipe without validation, evaluated, then the final model):\n"
        "  genrescope export runs/genre-embed-heavy/best.pt --out runs/genre-train-only.onnx\n"
        "  genrescope evaluate --model runs/genre-train-only.onnx --out-dir runs/eval-train-only\n"
        "  genrescope export runs/genre-final/best.pt --calibration-from runs/genre-train-only.onnx",
    )
    export.add_argument(
        "checkpoint",
        type=Path,
        nargs="?",
        default=DEFAULT_CHECKPOINT,
        help=f"training checkpoint (default {DEFAULT_CHECKPOINT})",
    )
    export.add_argument("--out", type=output_file, default=DEFAULT_GENRE_MODEL, help="ONNX file to write")
    export.add_argument(
        "--data-root",
        type=Path,
        default=None,
        help="folder holding fma_small/ (default: the one the checkpoint was trained from)",
    )
    export.add_argument("--version", default=MODEL_VERSION, help="model version stored in the card")
    export.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="int8",
        help="int8: ≈2.5× faster on CPUs and a third of the size (default); float32: as trained",
    )
    export.add_argument(
        "--calibration-from",
        type=Path,
        default=None,
        metavar="MODEL",
        help="for a checkpoint trained with --include-validation (nothing held out to calibrate "
        "on): take the temperature and clip method of MODEL, the same recipe's evaluated "
        "export trained without validation",
    )
    export.set_defaults(handler=runs("genrescope.training.genre.release", "run_export"))

    evaluate = command(
        commands,
        "evaluate",
        "evaluate a model on the official FMA test split",
        "Clip- and window-level accuracy, macro-F1, confusion matrix and calibration on the official test split.",
        "example (the shipped model; writes model/metrics.json and the card):\n"
        "  genrescope evaluate --model model/genre_crnn.onnx",
    )
    evaluate.add_argument("--model", type=Path, default=DEFAULT_GENRE_MODEL, help="ONNX model to evaluate")
    scoring_options(evaluate)
    evaluate.add_argument(
        "--fma-audio-root",
        type=Path,
        default=None,
        help="evaluate on your own FMA download instead (folder holding fma_metadata/ and "
        "fma_small/), decoded with the model's frontend",
    )
    evaluate.add_argument("--out-dir", type=output_folder, default=MODEL_DIR, help="where metrics.json and PNGs go")
    evaluate.add_argument("--no-card", action="store_true", help="do not copy the metrics into the model card")
    evaluate.set_defaults(handler=runs("genrescope.training.genre.evaluate", "run_evaluate"))

    add_fourq_commands(commands)

    phases = command(
        commands,
        "phases",
        "does averaging phase-shifted column grids help? (validation proxy)",
        "Score each interleaved column grid of the validation thumbnails alone and averaged (the even/odd "
        "columns stand for two phase-shifted grids at half the column rate); see training/genre/phases.py.",
        "example:\n  genrescope phases --phases 2 4 --out runs/phases.json",
    )
    phases.add_argument("--model", type=Path, default=DEFAULT_GENRE_MODEL, help="ONNX model (default: the shipped one)")
    scoring_options(phases)
    phases.add_argument(
        "--phases", type=Number(int, low=1), nargs="+", default=[2, 4], help="grid counts to try (default: 2 4)"
    )
    phases.add_argument("--out", type=Path, default=None, help="also write the report here (JSON)")
    phases.set_defaults(handler=runs("genrescope.training.genre.phases", "run_phases"))

    artists = command(
        commands,
        "artists",
        "accuracy per test artist, old model beside new (a figure)",
        "Whole-clip accuracy of two models on each official test artist, most prolific first: is a change "
        "broad, or one artist flipping? Reads the test split: run it only after the model is chosen.",
        "example:\n  genrescope artists runs/genre_B.onnx model/genre_crnn.onnx --out docs/test_artists.png",
    )
    artists.add_argument("old", type=Path, help="the previous ONNX model")
    artists.add_argument(
        "new", type=Path, nargs="?", default=DEFAULT_GENRE_MODEL, help="the new one (default: shipped)"
    )
    scoring_options(artists)
    artists.add_argument("--out", type=Path, default=Path("docs/test_artists.png"), help="figure (and .json beside it)")
    artists.set_defaults(handler=runs("genrescope.training.genre.artists", "run_artists"))

    compare = command(
        commands,
        "compare",
        "compare training runs and their ensembles on validation",
        "Validation accuracy of each checkpoint and of every ensemble of two or more (members' "
        "log-probabilities averaged, as an exported ensemble would pool them). Reads the validation "
        "split only: the test split stays untouched until one model is chosen.",
        "example:\n  genrescope compare runs/genre/best.pt runs/genre-short/best.pt runs/genre-seed2/best.pt",
    )
    compare.add_argument("checkpoints", type=Path, nargs="+", help="best.pt files of finished runs")
    compare.add_argument(
        "--data-root",
        type=Path,
        default=None,
        help="folder holding fma_small/ (default: the one each run trained from)",
    )
    compare.set_defaults(handler=runs("genrescope.training.genre.compare", "run_compare"))

    curve = command(
        commands,
        "learning-curve",
        "validation accuracy against the number of training artists",
        "Reads finished runs trained on shares of the training artists (train --training-artists) and "
        "prints, per run, the best and the last-5-epoch validation accuracy, then the gain per doubling "
        "of artists between neighbouring sizes; draws the curve. Validation only.",
        "example (two shares, two full runs):\n"
        "  genrescope learning-curve runs/curve-25* runs/curve-50* runs/genre-short runs/genre-seed2",
    )
    curve.add_argument("runs", type=Path, nargs="+", help="finished run directories (config.yaml, history.jsonl)")
    curve.add_argument(
        "--plot",
        type=Path,
        default=Path("docs/learning_curve.png"),
        help="where the curve goes (default docs/learning_curve.png)",
    )
    curve.set_defaults(handler=runs("genrescope.training.genre.learning_curve", "run_learning_curve"))


def add_cover_commands(commands: argparse._SubParsersAction) -> None:
    """The cover model's pipeline, in the order it runs: docs/cover.md explains each step."""
    anchor = command(
        commands,
        "cover-anchor",
        "the baseline the cover model must beat (frozen features + logistic regression)",
        "Logistic regression on pooled ImageNet EfficientNet-Lite0 embeddings of the plain covers, per "
        "data set: L2 picked on validation, scored on test, plus grouped 5-fold CV. A check of the data "
        "handling (a far higher score means a leaking split); writes RUN_DIR/anchor.json, which "
        "cover-evaluate copies into the metrics.",
        "example:\n  nice -n 10 genrescope cover-anchor          # → runs/cover/anchor.json",
    )
    anchor.add_argument(
        "--data-root",
        type=Path,
        default=DEFAULT_DATA_ROOT,
        help=f"folder holding covers/ (default {DEFAULT_DATA_ROOT})",
    )
    anchor.add_argument(
        "--run-dir", type=Path, default=COVER_RUN_DIR, help=f"feature cache and anchor.json (default {COVER_RUN_DIR})"
    )
    anchor.add_argument(
        "--size", type=Number(int, low=32), default=224, help="input size in px (default 224, the backbone's own)"
    )
    anchor.add_argument("--threads", type=COUNT, default=2, help="CPU threads for torch (default 2)")
    anchor.set_defaults(handler=runs("genrescope.training.cover.cover_anchor", "run_cover_anchor"))

    train = command(
        commands,
        "cover-train",
        "train the cover-art genre model on discogs5 + spotify5",
        "The frozen ImageNet backbone describes each cover at two scales (cached in the run directory, "
        "≈0.1 s per cover); a linear head over the union of labels is fitted as a logistic regression, "
        "its L2 chosen by group-wise folds of the training covers. Validation is scored once at the end. "
        "Writes RUN_DIR/cover_best.pt.",
        "example (the backbone describes each cover once; later runs and cover-cv reuse the cache):\n"
        "  nice -n 10 genrescope cover-train\n"
        "  genrescope cover-export && genrescope cover-evaluate",
    )
    add_setting_arguments(train, CoverTrainConfig, COVER_RANGES)
    train.set_defaults(handler=runs("genrescope.training.cover.train_cover", "run_cover_train"))

    cv = command(
        commands,
        "cover-cv",
        "artist-grouped cross-validation of the cover recipe on spotify5",
        "spotify5's covers go into k stratified folds of whole artists; per fold the recipe (L2 search, "
        "head fit) trains on the other folds plus discogs5's training split and is scored once on the "
        "held-out fold. Writes RUN_DIR/cover_cv.json and recipe_cv<k> into model/cover_metrics.json; the "
        "shipped model is not changed.",
        "example:\n  nice -n 10 genrescope cover-cv --folds 5",
    )
    add_setting_arguments(cv, CoverTrainConfig, COVER_RANGES)
    cv.add_argument("--folds", type=Number(int, low=2), default=5, help="number of artist folds (default 5)")
    cv.set_defaults(handler=runs("genrescope.training.cover.cover_cv", "run_cover_cv"))

    export = command(
        commands,
        "cover-export",
        "export the trained cover model to ONNX (parity-checked)",
        "Writes the ONNX graph (preprocessed image in, probabilities over the union of labels out) with "
        "its spec, version and validation metrics in the metadata, after torch and onnxruntime agree to "
        "1e-4.",
        "example:\n  genrescope cover-export runs/cover/cover_best.pt",
    )
    export.add_argument(
        "checkpoint",
        type=Path,
        nargs="?",
        default=COVER_RUN_DIR / "cover_best.pt",
        help=f"checkpoint of cover-train (default {COVER_RUN_DIR / 'cover_best.pt'})",
    )
    export.add_argument("--out", type=Path, default=DEFAULT_COVER_MODEL, help="ONNX file to write")
    export.add_argument("--version", default=COVER_MODEL_VERSION, help="model version stored in the file")
    export.set_defaults(handler=runs("genrescope.training.cover.export_cover", "run_cover_export"))

    evaluate = command(
        commands,
        "cover-evaluate",
        "score the cover model once on each set's test split",
        "Runs the ONNX file through the runtime's own path (CoverModel, preprocessing included): per set, "
        "accuracy with a 95% Wilson interval, macro-F1, confusion matrix, union top-1. Writes "
        "model/cover_metrics.json, model/cover_confusion_<set>.png and the metrics into the file; the "
        "'most typical covers' figures show cover art and go to RUN_DIR, outside the repository.",
        "example:\n  genrescope cover-evaluate",
    )
    evaluate.add_argument("--model", type=Path, default=DEFAULT_COVER_MODEL, help="ONNX cover model to score")
    evaluate.add_argument(
        "--data-root",
        type=Path,
        default=DEFAULT_DATA_ROOT,
        help=f"folder holding covers/ (default {DEFAULT_DATA_ROOT})",
    )
    evaluate.add_argument(
        "--run-dir",
        type=Path,
        default=COVER_RUN_DIR,
        help=f"figures with cover art; anchor.json is read from here (default {COVER_RUN_DIR})",
    )
    evaluate.set_defaults(handler=runs("genrescope.training.cover.eval_cover", "run_cover_evaluate"))

    fusion = command(
        commands,
        "fit-fusion",
        "fit the audio/cover fusion weight on validation pairs",
        "No track comes with both audio and its cover, so validation tracks are paired with random "
        "validation covers of the same genre (redrawn --pairings times); the weight of the log-linear "
        "pool maximises the mean log-likelihood of the true genre. The test pairs are scored once with "
        "it. Writes model/fusion.json, which the runtime reads.",
        "example (needs the exported genre model):\n  genrescope fit-fusion --pairings 20",
    )
    add_setting_arguments(fusion, FusionFitConfig, FUSION_RANGES)
    fusion.set_defaults(handler=runs("genrescope.training.cover.fit_fusion", "run_fit_fusion"))
