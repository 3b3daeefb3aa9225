"""Real-time factor of whole files through the engine, decoding included.

Two numbers, both on all cores of this machine:
* one file at a time, onnxruntime using every core (what `genrescope file` does);
* a library tagged in parallel, one single-threaded engine per core (throughput).

    python bench/offline.py FILE... [--repeat 5] [--json out.json]
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


def run_file(path: str, threads: int) -> tuple[float, float]:
    """(audio seconds, wall seconds) for one file, decode to last update."""
    import torch

    from model.session import GenreModel
    from stream.engine import EngineConfig, GenreEngine
    from stream.filesource import FileSource

    torch.set_num_threads(threads)
    engine = GenreEngine(_model(threads), EngineConfig(frontend_device="cpu"))
    started = time.perf_counter()
    for _ in engine.run(FileSource(path)):
        pass
    return engine.summary().audio_seconds, time.perf_counter() - started


_MODELS: dict = {}


def _model(threads: int):
    from model.session import GenreModel

    if threads not in _MODELS:  # loading is set-up, not per-file work
        _MODELS[threads] = GenreModel.load(None, threads=threads, prefer_gpu=False)
    return _MODELS[threads]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    run_file(args.files[0], cores)  # warm-up: imports, model load
    factors = []
    for _ in range(args.repeat):
        for path in args.files:
            audio, wall = run_file(path, cores)
            factors.append(audio / wall)
    jobs = [path for _ in range(args.repeat) for path in args.files]
    with ProcessPoolExecutor(cores) as pool:
        list(pool.map(run_file, jobs[:cores], [1] * cores))  # warm each worker
        started = time.perf_counter()
        results = list(pool.map(run_file, jobs, [1] * len(jobs)))
        wall = time.perf_counter() - started
    save({
        "machine": machine(),
        "files": [Path(p).name for p in args.files],
        "single_file_realtime_factor": percentiles(factors),
        "parallel_library_realtime_factor": sum(a for a, _ in results) / wall,
        "parallel_workers": cores,
    }, args.json)


if __name__ == "__main__":
    main()
