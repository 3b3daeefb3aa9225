"""The parts every training-side subcommand is made of: a lazily imported handler, a
subcommand whose --help shows an example, the options every scoring command shares.

Apart from training/commands.py so that the command families defined in their own
modules (training/fourq_commands.py) use them without importing one another."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from pathlib import Path

from genrescope.stream.checks import COUNT
from genrescope.training.genre.config import DEFAULT_DATA_ROOT


def runs(module: str, function: str) -> Callable[[argparse.Namespace], int]:
    """A handler that imports ``module`` only when the command runs."""

    def handler(args: argparse.Namespace) -> int:
        return getattr(importlib.import_module(module), function)(args)

    return handler


def command(
    commands: argparse._SubParsersAction, name: str, summary: str, description: str, example: str
) -> argparse.ArgumentParser:
    """A subcommand whose --help states what it does and shows how to run it."""
    return commands.add_parser(
        name,
        help=summary,
        description=description,
        epilog=example,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def scoring_options(parser: argparse.ArgumentParser) -> None:
    """Where the FMA data is and how many threads score it: what every command that runs
    a shipped ONNX model over a split asks for."""
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT, help="folder holding fma_small/")
    parser.add_argument("--threads", type=COUNT, default=2, help="onnxruntime threads")
