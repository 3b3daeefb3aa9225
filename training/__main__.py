"""``python -m training``: the same as ``genrescope train`` (see stream/cli.py)."""

import argparse
import logging

from training.config import add_arguments, from_arguments
from training.train import train


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m training", description="Train the genre CRNN on FMA-small.")
    add_arguments(parser)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    print(train(from_arguments(parser.parse_args())))


if __name__ == "__main__":
    main()
