"""Per-update compute time of the streaming engine (frontend + model), p50/p99, and what
the chroma and key (model/frontend/pitch.py) add to it.

Runs the real engine on a long synthetic stream with onnxruntime and torch pinned to one
CPU thread (the streaming configuration), and on the GPU when there is one. Updates are
split into the ramp-up (context < 30 s) and the steady state (full 30 s context), the
case a live stream spends its life in. Two engines, with and without pitch, are fed the
same blocks in turn (each first every other block), so that both see the same machine load; ``pitch_adds_ms`` gives the
percentiles of the per-update difference (same column, with minus without). Wall-clock
times swell when other processes share the cores, so each engine's steady state is also
given in thread CPU time (``time.thread_time``) per block that completed one update:
resampling that block included, time spent waiting for a core excluded.

    python bench/latency.py [--model model/genre_crnn.onnx] [--seconds 120] [--json out.json]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, percentiles, save
from genrescope.model.session import cuda_present
from genrescope.stream.engine.engine import EngineConfig, GenreEngine, load_engine
from genrescope.stream.engine.events import GenreUpdate
from genrescope.stream.sources.demo import DemoSource


def measure(model_path: Path | None, seconds: float, gpu: bool) -> dict:
    config = EngineConfig(frontend_device="cuda" if gpu else "cpu")
    engines = {
        "with_pitch": load_engine(model_path, config, prefer_gpu=gpu),
        "without_pitch": load_engine(model_path, replace(config, pitch=False), prefer_gpu=gpu),
    }
    updates: dict[str, list] = {name: [] for name in engines}
    cpu_ms: dict[str, list[float]] = {name: [] for name in engines}  # per block that made one update
    for index, chunk in enumerate(DemoSource(realtime=False, seconds=seconds)):
        for name, engine in sorted(engines.items(), reverse=index % 2 == 1):  # each goes first half the time
            started = time.thread_time()
            made = engine.process(chunk)
            if len(made) == 1 and _full(engine, made[0]):
                cpu_ms[name].append((time.thread_time() - started) * 1e3)
            updates[name].extend(made)
    engine = engines["with_pitch"]
    results = {
        "provider": engine.provider,
        "frontend_device": str(engine.frontend.device),
        "updates_per_second_of_audio": 1 / engine.spec.column_seconds,
    }
    for name in engines:
        results[name] = {
            "steady_state_ms": percentiles([u.stats.compute_ms for u in updates[name] if _full(engine, u)]),
            "ramp_up_ms": percentiles([u.stats.compute_ms for u in updates[name] if not _full(engine, u)]),
            "steady_state_thread_cpu_ms": percentiles(cpu_ms[name]),
        }
    results["pitch_adds_ms"] = percentiles(
        [
            a.stats.compute_ms - b.stats.compute_ms
            for a, b in zip(updates["with_pitch"], updates["without_pitch"], strict=True)
            if _full(engine, a)
        ]
    )
    return results


def _full(engine: GenreEngine, update: GenreUpdate) -> bool:
    """Whether ``update`` saw the full 30 s context (the steady state)."""
    return update.context_seconds >= engine.spec.context_seconds - 0.01


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--seconds", type=float, default=120.0, help="audio to stream (default 120 s)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    results = {"machine": machine(), "cpu_1_thread": measure(args.model, args.seconds, gpu=False)}
    if cuda_present():
        results["gpu"] = measure(args.model, args.seconds, gpu=True)
    save(results, args.json)


if __name__ == "__main__":
    main()
