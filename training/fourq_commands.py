"""The 4Q commands: build the set of commercial clips outside FMA, score a model on it,
and check that production cues cannot tell its crops from FMA's (docs/model.md: Commercial
music outside FMA)."""

from __future__ import annotations

import argparse
from pathlib import Path

from genrescope.model.session import DEFAULT_GENRE_MODEL
from genrescope.stream.checks import COUNT, SEED, output_file
from genrescope.training.command_parts import command, runs, scoring_options
from genrescope.training.genre.config import DEFAULT_DATA_ROOT


def _out_of_fma_record(parser: argparse.ArgumentParser) -> None:
    """--record: where the 4Q commands keep what they measured."""
    parser.add_argument(
        "--record",
        type=Path,
        default=None,
        help="merge the report into this metrics file's out_of_fma block (e.g. model/metrics.json)",
    )


def add_fourq_commands(commands: argparse._SubParsersAction) -> None:
    build = command(
        commands,
        "fourq-build",
        "build the 4Q set (commercial clips outside FMA) from a git copy",
        "Reads the 900 AllMusic previews of the 4Q emotion dataset (Panda et al. 2018) and their genres from a "
        "local git copy of github.com/Famelgas/MULT_TP2 (git ls-tree / cat-file at the pinned commit), checks "
        "them, maps the genres to FMA-small's (training/genre/fourq.py: GENRE_MAP) and renders every clip's whole "
        "hop grid with the runtime frontend into one .npz outside the repository. Research data of commercial "
        "previews: train and evaluate with it, never commit or share it.",
        "example (git clone --bare https://github.com/Famelgas/MULT_TP2 mult_tp2.git, ≈0.6 GB):\n"
        "  genrescope fourq-build mult_tp2.git            # 3-4 minutes on 2 cores\n"
        "  genrescope fourq-eval --record model/metrics.json",
    )
    build.add_argument("copy", type=Path, help="the repository's git directory (a bare clone, or a clone's .git)")
    build.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where the set goes (default: $GENRESCOPE_FOURQ, else the user data folder's "
        "genrescope/datasets/fourq.npz)",
    )
    build.add_argument("--expect", type=COUNT, default=900, help="clips the copy must hold (default 900, the dataset)")
    build.set_defaults(handler=runs("genrescope.training.genre.fourq", "run_fourq_build"))

    fourq_eval = command(
        commands,
        "fourq-eval",
        "score a model on the labelled 4Q clips (out of FMA)",
        "Set accuracy (the top genre inside the clip's AllMusic genre set), the same balanced over the sets of "
        "one AllMusic genre, per-set recall, the confusion table, calibration. For models that never learned "
        "from 4Q; cross-validation (genrescope cv) scores the ones that did.",
        "example (the previous model's row):\n"
        "  genrescope fourq-eval --model model/genre_crnn.onnx --record model/metrics.json --as previous_model",
    )
    fourq_eval.add_argument(
        "--model", type=Path, default=DEFAULT_GENRE_MODEL, help="ONNX model (default: the shipped one)"
    )
    fourq_eval.add_argument("--fourq", type=Path, default=None, help="the built set (default as fourq-build's --out)")
    scoring_options(fourq_eval)
    _out_of_fma_record(fourq_eval)
    fourq_eval.add_argument(
        "--as",
        dest="as_name",
        default="previous_model",
        help="the report's name in that block (default previous_model)",
    )
    fourq_eval.add_argument(
        "--choose-unsure",
        action="store_true",
        help="also choose the temperature and the engine's unsure threshold on the model's FMA "
        "validation and 4Q predictions, pooled (for a model that learned from neither)",
    )
    fourq_eval.add_argument(
        "--figure",
        type=output_file,
        default=None,
        metavar="PNG",
        help="with --record: draw this model's 4Q confusion table beside the out-of-fold ones "
        "of every recipe in the record's cv (e.g. docs/fourq_confusion.png)",
    )
    fourq_eval.set_defaults(handler=runs("genrescope.training.genre.fourq_eval", "run_fourq_eval"))

    domain = command(
        commands,
        "domain-check",
        "can bandwidth, loudness or codec cues tell 4Q crops from FMA ones?",
        "Draws training crops as a 4Q recipe's batches make them, reduces each to production cues that carry no "
        "genre (bandwidth, loudness, codec holes; training/genre/domain_check.py), and reports how well a logistic "
        "regression tells the two sets apart (5-fold ROC AUC; 0.5 = cannot tell), as trained and with the "
        "bandwidth matching off.",
        "example:\n  genrescope domain-check training/recipes/fourq/embed_heavy_fourq.yaml --record model/metrics.json",
    )
    domain.add_argument("recipe", type=Path, help="a recipe YAML that learns from 4Q")
    domain.add_argument("--batches", type=COUNT, default=60, help="training batches to draw (default 60)")
    domain.add_argument("--seed", type=SEED, default=0, help="seed of the draw (default 0)")
    domain.add_argument(
        "--data-root", type=Path, default=None, help=f"folder holding fma_small/ (default {DEFAULT_DATA_ROOT})"
    )
    _out_of_fma_record(domain)
    domain.set_defaults(handler=runs("genrescope.training.genre.domain_check", "run_domain_check"))
