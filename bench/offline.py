"""Real-time factor of whole files through the engine, decoding included.

Two numbers:
* one file at a time on one engine thread (what `genrescope file` does);
* a library tagged in parallel, one single-threaded engine per core, as `genrescope tag`
  does (throughput on all cores of this machine; worker start-up excluded).

    python bench/offline.py FILE... [--model M.onnx] [--repeat 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, percentiles, save
from genrescope.stream.tag.library import start_worker, tag_file, tag_in_worker, tagging_engine
from genrescope.stream.tag.tags import FileTags


def run_file(path: str, model_path: Path | None) -> tuple[float, float]:
    """(audio seconds, wall seconds) for one file, decode to last update, as `genrescope tag`."""
    engine = _engine(model_path, True)
    started = time.perf_counter()
    tags = _checked(tag_file(engine, Path(path)))
    return tags.audio_seconds, time.perf_counter() - started


def _checked(tags: FileTags) -> FileTags:
    if tags.error:
        raise SystemExit(tags.error)
    return tags


_engine = functools.cache(tagging_engine)  # loading is set-up, not per-file work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+")
    parser.add_argument("--model", type=Path, default=None, help="ONNX genre model (default: the shipped one)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    run_file(args.files[0], args.model)  # warm-up: imports, model load
    factors = []
    for _ in range(args.repeat):
        for path in args.files:
            audio, wall = run_file(path, args.model)
            factors.append(audio / wall)
    jobs = [path for _ in range(args.repeat) for path in args.files]
    with ProcessPoolExecutor(cores, initializer=start_worker, initargs=(args.model, True, True)) as pool:  # per-update
        list(pool.map(tag_in_worker, jobs[:cores]))  # warm each worker
        started = time.perf_counter()
        results = [_checked(tags) for tags in pool.map(tag_in_worker, jobs)]
        wall = time.perf_counter() - started
    save(
        {
            "machine": machine(),
            "model": str(args.model or "shipped"),
            "files": [Path(p).name for p in args.files],
            "single_file_realtime_factor": percentiles(factors),
            "parallel_library_realtime_factor": sum(tags.audio_seconds for tags in results) / wall,
            "parallel_workers": cores,
        },
        args.json,
    )


if __name__ == "__main__":
    main()
