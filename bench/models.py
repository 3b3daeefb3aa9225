"""Two genre models side by side in one run: per-update latency and library tagging speed.

A new model ships only if it costs about what the old one did on the same machine. Absolute
times differ between hosts (AVX-512 VNNI or AVX2 only) and with whatever else shares the
cores, so both models run in the same process, in turn:

* **latency** — one streaming engine per model (one CPU thread, as ``live`` and ``serve``
  run), fed the same demo blocks, each going first every other block; the steady state
  (full 30 s context) per-update compute time, percentiles, and the per-update ratio
  new / old at the same column;
* **tagging** — the batched tagger (``genrescope tag``'s path, one core) of each model on
  the same real MP3 files, alternating model by repeat; real-time factors and their ratio.

    python bench/models.py --old OLD.onnx --new model/genre_crnn.onnx [--json bench/models-cpu.json]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, percentiles, save
from genrescope.stream.engine.engine import EngineConfig, load_engine, numpy_on_one_thread
from genrescope.stream.sources.demo import DemoSource
from genrescope.stream.tag.library import file_tagger
from genrescope.training.genre.config import DEFAULT_DATA_ROOT

MODELS = ("old", "new")


def latency(paths: dict[str, Path], seconds: float) -> dict:
    """Steady-state per-update compute time of each model's engine, fed the same blocks in turn."""
    engines = {name: load_engine(path, EngineConfig(pitch=False), prefer_gpu=False) for name, path in paths.items()}
    steady: dict[str, list[float]] = {name: [] for name in engines}
    cpu_ms: dict[str, list[float]] = {name: [] for name in engines}  # thread CPU time: waiting for a core excluded
    context = next(iter(engines.values())).spec.context_seconds - 0.01
    for index, chunk in enumerate(DemoSource(realtime=False, seconds=seconds)):
        made, spent = {}, {}
        for name in MODELS if index % 2 == 0 else MODELS[::-1]:
            started = time.thread_time()
            made[name] = engines[name].process(chunk)
            spent[name] = (time.thread_time() - started) * 1e3
        if all(len(updates) == 1 and updates[0].context_seconds >= context for updates in made.values()):
            for name in MODELS:
                steady[name].append(made[name][0].stats.compute_ms)
                cpu_ms[name].append(spent[name])
    return {
        **{f"{name}_steady_state_ms": percentiles(steady[name]) for name in MODELS},
        **{f"{name}_steady_state_thread_cpu_ms": percentiles(cpu_ms[name]) for name in MODELS},
        "ratio_new_over_old_wall": percentiles((np.array(steady["new"]) / np.array(steady["old"])).tolist()),
        "ratio_new_over_old_thread_cpu": percentiles((np.array(cpu_ms["new"]) / np.array(cpu_ms["old"])).tolist()),
    }


def tagging(paths: dict[str, Path], files: list[Path], repeat: int) -> dict:
    """Real-time factor of each model's batched tagger on the same files, models alternating."""
    numpy_on_one_thread()
    taggers = {name: file_tagger(path, cpu=True) for name, path in paths.items()}
    for name in MODELS:
        taggers[name](files[0])  # warm-up
    audio = dict.fromkeys(MODELS, 0.0)
    wall = dict.fromkeys(MODELS, 0.0)
    for round_ in range(repeat):
        for name in MODELS if round_ % 2 == 0 else MODELS[::-1]:
            for path in files:
                started = time.perf_counter()
                tags = taggers[name](path)
                wall[name] += time.perf_counter() - started
                if tags.error:
                    raise SystemExit(tags.error)
                audio[name] += tags.audio_seconds
    factors = {name: audio[name] / wall[name] for name in MODELS}
    return {
        **{f"{name}_realtime_factor": round(factors[name], 1) for name in MODELS},
        "ratio_new_over_old_throughput": round(factors["new"] / factors["old"], 3),
        "files": len(files),
        "repeat": repeat,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", type=Path, required=True, help="the previous ONNX genre model")
    parser.add_argument("--new", type=Path, required=True, help="the new ONNX genre model")
    parser.add_argument("--seconds", type=float, default=240.0, help="demo audio streamed for latency (default 240 s)")
    parser.add_argument("--repeat", type=int, default=4, help="tagging rounds per model (default 4)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    files = sorted((DEFAULT_DATA_ROOT / "music").glob("*.mp3"))
    if not files:
        raise SystemExit(f"no MP3 clips under {DEFAULT_DATA_ROOT / 'music'}")
    paths = {"old": args.old, "new": args.new}
    cpu_flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    results = {
        "machine": machine(),
        "avx512_vnni": "avx512_vnni" in cpu_flags,
        "models": {name: str(path) for name, path in paths.items()},
        "latency": latency(paths, args.seconds),
        "tagging": tagging(paths, files, args.repeat),
    }
    save(results, args.json)


if __name__ == "__main__":
    main()
