"""Per-cover time of the shipped cover model, as `genrescope cover` runs it.

Real covers from ``../shared/data/covers`` (JPEG files, 300×300), one at a time through
the runtime path: decode to RGB (``stream.artwork.open_rgb``, as ``genrescope cover``
does), preprocess (squash-resize, normalise), onnxruntime (one thread, the default
session), with p50/p99 of each stage and covers per second.

    python bench/cover.py [--covers 200] [--data ../shared/data] [--json bench/cover-cpu.json]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from bench.common import machine, percentiles, save
from genrescope.model.cover.cover import CoverModel
from genrescope.model.cover.cover_spec import preprocess
from genrescope.stream.cover.artwork import open_rgb
from genrescope.training.genre.config import DEFAULT_DATA_ROOT


def cover_files(data: Path, count: int) -> list[Path]:
    """``count`` covers taken evenly from every genre folder of both data sets."""
    files = sorted((data / "covers").glob("*/*/*.jpg"))
    if not files:
        raise SystemExit(f"no covers under {data / 'covers'}")
    return [files[i] for i in np.linspace(0, len(files) - 1, min(count, len(files))).astype(int)]


def measure(model: CoverModel, files: list[Path]) -> dict:
    stages: dict[str, list[float]] = {"decode_ms": [], "preprocess_ms": [], "model_ms": [], "total_ms": []}
    name = model.session.get_inputs()[0].name
    model.session.run(None, {name: preprocess(open_rgb(files[0]), model.spec)[None]})  # warm-up
    for path in files:
        t0 = time.perf_counter()
        image = open_rgb(path)
        t1 = time.perf_counter()
        x = preprocess(image, model.spec)[None]
        t2 = time.perf_counter()
        model.session.run(None, {name: x})
        t3 = time.perf_counter()
        for key, seconds in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t3 - t0), strict=True):
            stages[key].append(seconds * 1e3)
    return {
        "provider": model.provider,
        "model_version": model.version,
        "input_size": model.spec.size,
        **{key: percentiles(values) for key, values in stages.items()},
        "covers_per_second": 1e3 / float(np.mean(stages["total_ms"])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--covers", type=int, default=200, help="how many covers to time (default 200)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_ROOT, help="folder holding covers/")
    parser.add_argument("--model", type=Path, default=None, help="cover model (default: the shipped one)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    model = CoverModel.load(args.model)
    save({"machine": machine(), "one_thread": measure(model, cover_files(args.data, args.covers))}, args.json)


if __name__ == "__main__":
    main()
