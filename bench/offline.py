"""Real-time factor of whole files through the engine, decoding included.

Two numbers:
* one file at a time on one engine thread (what `genrescope file` does; ffmpeg decodes
  MP3 in its own process beside it);
* a library tagged in parallel, one single-threaded engine per core (throughput on all
  cores of this machine).

    python bench/offline.py FILE... [--model M.onnx] [--repeat 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, percentiles, save  # noqa: E402


def run_file(path: str, threads: int, model_path: Path | None) -> tuple[float, float]:
    """(audio seconds, wall seconds) for one file, decode to last update."""
    import torch

    from stream.engine import EngineConfig, GenreEngine
    from stream.filesource import FileSource

    torch.set_num_threads(threads)
    engine = GenreEngine(_model(threads, model_path), EngineConfig(frontend_device="cpu"))
    started = time.perf_counter()
    for _ in engine.run(FileSource(path)):
        pass
    return engine.summary().audio_seconds, time.perf_counter() - started


_MODELS: dict = {}


def _model(threads: int, model_path: Path | None):
    from model.session import GenreModel

    key = (threads, model_path)
    if key not in _MODELS:  # loading is set-up, not per-file work
        _MODELS[key] = GenreModel.load(model_path, threads=threads, prefer_gpu=False)
    return _MODELS[key]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+")
    parser.add_argument("--model", type=Path, default=None, help="ONNX genre model (default: the shipped one)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    run_file(args.files[0], 1, args.model)  # warm-up: imports, model load
    factors = []
    for _ in range(args.repeat):
        for path in args.files:
            audio, wall = run_file(path, 1, args.model)
            factors.append(audio / wall)
    jobs = [path for _ in range(args.repeat) for path in args.files]
    with ProcessPoolExecutor(cores) as pool:
        list(pool.map(run_file, jobs[:cores], [1] * cores, [args.model] * cores))  # warm each worker
        started = time.perf_counter()
        results = list(pool.map(run_file, jobs, [1] * len(jobs), [args.model] * len(jobs)))
        wall = time.perf_counter() - started
    save({
        "machine": machine(),
        "model": str(args.model or "shipped"),
        "files": [Path(p).name for p in args.files],
        "single_file_realtime_factor": percentiles(factors),
        "parallel_library_realtime_factor": sum(a for a, _ in results) / wall,
        "parallel_workers": cores,
    }, args.json)


if __name__ == "__main__":
    main()
