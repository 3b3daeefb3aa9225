"""``python -m training``: the same as ``genrescope train`` (see training/commands.py)."""

import argparse
import logging
import sys

from genrescope.training.config import add_arguments
from genrescope.training.train import run_train


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m training", description="Train the genre CRNN on FMA-small.")
    add_arguments(parser)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    return run_train(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
