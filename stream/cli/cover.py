"""``genrescope cover IMAGE|SONG ... [--json]``: genre probabilities from cover art.

Each argument is either an image file or an audio file with embedded artwork (see
stream/cover/artwork.py). Problems with one input (no artwork, unreadable file) are reported
per input and make the exit status 1, without stopping the others.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from PIL import Image

from genrescope.model.cover.cover import CoverModel
from genrescope.stream.checks import COUNT
from genrescope.stream.cover.artwork import IMAGE_ERRORS, ArtworkError, extract_artwork, open_rgb
from genrescope.stream.engine.events import ranked


class InputError(Exception):
    """An input that yields no image; the message is meant for the user."""


def add_cover_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``cover`` subcommand's arguments on its (sub)parser."""
    parser.add_argument(
        "inputs", nargs="+", metavar="IMAGE|SONG", help="cover images, or audio files with embedded artwork"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--top", type=COUNT, default=3, help="genres shown per input (text output)")
    parser.add_argument(
        "--label-set", default=None, help="renormalise over one training set's labels (discogs5, spotify5)"
    )
    parser.add_argument("--model", default=None, help="cover model file (default: the shipped one)")


def load_image(path: Path) -> tuple[Image.Image, str]:
    """The image itself, or the artwork embedded in an audio file; and where it came from.

    A file named as an image (by its extension) that does not decode gets the image
    decoder's own words; any other file is tried as audio with artwork, and if that
    fails too the error says both what the image decoder and the tag reader found.
    """
    if not path.exists():
        raise InputError("no such file")
    if not path.is_file():
        raise InputError("not a file (an image, or an audio file with embedded artwork)")
    try:
        return open_rgb(path), "image"
    except IMAGE_ERRORS as exc:
        image_error = _image_reason(exc)
    if path.suffix.lower() in Image.registered_extensions():
        raise InputError(f"not a readable image: {image_error}")
    try:
        art = extract_artwork(path)
    except ArtworkError as exc:
        raise InputError(f"neither a readable image ({image_error}) nor audio with readable tags ({exc})") from exc
    if art is None:
        raise InputError("no embedded artwork found (the file is readable but its tags hold no picture)")
    return art, "embedded artwork"


def _image_reason(error: Exception) -> str:
    """Pillow's words; a decompression bomb is named as such."""
    if isinstance(error, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return f"too large to decode safely ({error})"
    return str(error) or type(error).__name__


def classify(model: CoverModel, path: Path, label_set: str | None) -> dict[str, Any]:
    """One input's result record (probabilities sorted high to low, or an error)."""
    try:
        image, source = load_image(path)
    except InputError as exc:
        return {"input": str(path), "error": str(exc)}
    probs = model.predict(image, label_set=label_set)
    ordered = dict(ranked(probs.items()))
    return {"input": str(path), "source": source, "top": next(iter(ordered)), "probabilities": ordered}


def run_cover(args: argparse.Namespace) -> int:
    """Classify every input; 0 when all succeeded, 1 when any failed, 2 on a bad model."""
    try:
        model = CoverModel.load(args.model)
        model.labels_of(args.label_set)
    except (FileNotFoundError, ValueError) as exc:
        print(f"genrescope: error: {exc}", file=sys.stderr)
        return 2
    results = [classify(model, Path(p), args.label_set) for p in args.inputs]
    if args.json:
        print(json.dumps({"model": model.version, "provider": model.provider, "results": results}, indent=2))
    else:
        for r in results:
            print(_text(r, args.top), file=sys.stderr if "error" in r else sys.stdout)
    return 1 if any("error" in r for r in results) else 0


def _text(result: dict[str, Any], top: int) -> str:
    if "error" in result:
        return f"{result['input']}: error: {result['error']}"
    best = list(result["probabilities"].items())[:top]
    return f"{result['input']} ({result['source']}): " + ", ".join(f"{g} {p:.0%}" for g, p in best)
