"""The command-line definitions of ``genrescope train``, ``export`` and ``evaluate``.

They live apart from the code they run so that building the parser imports no torch:
``genrescope --help`` (and every command that is not training) starts in a fraction of
a second. Each handler imports its module when the command runs.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from pathlib import Path

from genrescope.model.session import DEFAULT_GENRE_MODEL, MODEL_DIR
from genrescope.stream.checks import COUNT, SEED, Number, output_file, output_folder
from genrescope.training.config import DEFAULT_DATA_ROOT, TrainConfig
from genrescope.training.config import add_arguments as add_train_arguments

DEFAULT_CHECKPOINT = TrainConfig().best_checkpoint  # where `genrescope train` keeps its best epoch
MODEL_VERSION = "genre-crnn-effl0-1.1-int8"  # what the next export writes into the card
PRECISIONS = ("int8", "float32")


def runs(module: str, function: str) -> Callable[[argparse.Namespace], int]:
    """A handler that imports ``module`` only when the command runs."""
    def handler(args: argparse.Namespace) -> int:
        return getattr(importlib.import_module(module), function)(args)
    return handler


def add_commands(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="train the genre model on FMA-small",
                                description="Train the genre CRNN (CPU by default, CUDA when present).\n"
                                            "Re-running the same command resumes from the last epoch.",
                                epilog="example (the shipped model's run: 20 epochs of 1-3 min each on 2 CPU cores):\n"
                                       "  genrescope train --run-dir runs/genre-short --epochs 20 --seed 1 "
                                       "--crop-distribution log_uniform\n"
                                       "  genrescope export runs/genre-short/best.pt && genrescope evaluate",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_train_arguments(train)
    train.set_defaults(handler=runs("genrescope.training.train", "run_train"))

    cv = commands.add_parser("cv", help="rank training recipes by artist-grouped cross-validation",
                             description="Train each recipe (a YAML of train settings) K times over training + "
                                         "validation, one fold of whole artists held out each time, on folds "
                                         "drawn once and stored; prints mean ± sd and writes summary.json. "
                                         "Resumable: re-run the same command. Never reads the test split.",
                             epilog="example (both shipped recipes, 5 folds, 8 epochs each, in the background):\n"
                                    "  nohup genrescope cv --folds 5 --epochs 8 --out runs/cv > runs/cv.log &",
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    cv.add_argument("recipes", nargs="*", type=Path,
                    help="recipe YAML files (default: every training/recipes/*.yaml)")
    cv.add_argument("--folds", type=Number(int, low=2), default=5, help="number of artist folds (default 5)")
    cv.add_argument("--epochs", type=COUNT, default=None, help="override every recipe's epochs (a CV budget)")
    cv.add_argument("--seed", type=SEED, default=0, help="seed of the fold draw (default 0)")
    cv.add_argument("--threads", type=COUNT, default=2, help="CPU threads for torch (default 2)")
    cv.add_argument("--out", type=output_folder, default=Path("runs/cv"), help="folds, runs and summary (default runs/cv)")
    cv.add_argument("--data-root", type=Path, default=None, help=f"folder holding fma_small/ (default {DEFAULT_DATA_ROOT})")
    cv.set_defaults(handler=runs("genrescope.training.cv", "run_cv"))

    export = commands.add_parser("export", help="export a checkpoint to ONNX with its model card",
                                 description="Export to ONNX (float32, parity-checked against torch), quantize "
                                             "to int8, fit the temperature on validation, write the card.")
    export.add_argument("checkpoint", type=Path, nargs="?", default=DEFAULT_CHECKPOINT,
                        help=f"training checkpoint (default {DEFAULT_CHECKPOINT})")
    export.add_argument("--out", type=output_file, default=DEFAULT_GENRE_MODEL, help="ONNX file to write")
    export.add_argument("--data-root", type=Path, default=None,
                        help="folder holding fma_small/ (default: the one the checkpoint was trained from)")
    export.add_argument("--version", default=MODEL_VERSION, help="model version stored in the card")
    export.add_argument("--precision", choices=PRECISIONS, default="int8",
                        help="int8: ≈2.5× faster on CPUs and a third of the size (default); float32: as trained")
    export.set_defaults(handler=runs("genrescope.training.release", "run_export"))

    evaluate = commands.add_parser("evaluate", help="evaluate a model on the official FMA test split",
                                   description="Clip- and window-level accuracy, macro-F1, confusion "
                                               "matrix and calibration on the official test split.")
    evaluate.add_argument("--model", type=Path, default=DEFAULT_GENRE_MODEL, help="ONNX model to evaluate")
    evaluate.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT, help="folder holding fma_small/")
    evaluate.add_argument("--fma-audio-root", type=Path, default=None,
                          help="evaluate on your own FMA download instead (folder holding fma_metadata/ and "
                               "fma_small/), decoded with the model's frontend")
    evaluate.add_argument("--out-dir", type=output_folder, default=MODEL_DIR, help="where metrics.json and PNGs go")
    evaluate.add_argument("--threads", type=COUNT, default=2, help="onnxruntime threads")
    evaluate.add_argument("--no-card", action="store_true", help="do not copy the metrics into the model card")
    evaluate.set_defaults(handler=runs("genrescope.training.evaluate", "run_evaluate"))
