"""Per-update compute time of the streaming engine (frontend + model), p50/p99.

Runs the real engine on a long synthetic stream with onnxruntime and torch pinned to one
CPU thread (the streaming configuration), and on the GPU when there is one. Updates are
split into the ramp-up (context < 30 s) and the steady state (full 30 s context), the
case a live stream spends its life in.

    python bench/latency.py [--model model/genre_crnn.onnx] [--seconds 120] [--json out.json]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, percentiles, save  # noqa: E402
from genrescope.model.session import cuda_present  # noqa: E402
from genrescope.stream.demo import DemoSource  # noqa: E402
from genrescope.stream.engine import EngineConfig, load_engine  # noqa: E402


def measure(model_path: Path | None, seconds: float, gpu: bool) -> dict:
    engine = load_engine(model_path, EngineConfig(frontend_device="cuda" if gpu else "cpu"), prefer_gpu=gpu)
    updates = list(engine.run(DemoSource(realtime=False, seconds=seconds)))
    full = [u.stats.compute_ms for u in updates if u.context_seconds >= engine.spec.context_seconds - 0.01]
    ramp = [u.stats.compute_ms for u in updates if u.context_seconds < engine.spec.context_seconds - 0.01]
    return {"provider": engine.provider, "frontend_device": str(engine.frontend.device),
            "updates_per_second_of_audio": 1 / engine.spec.column_seconds,
            "steady_state_ms": percentiles(full), "ramp_up_ms": percentiles(ramp)}


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
