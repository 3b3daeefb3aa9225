"""How many live streams one process keeps at the full update rate: batched (one
``BatchScheduler``, one shared model) against one engine per stream (a ``GenreEngine``
with its own onnxruntime session and thread per stream), in one run, side by side.

Each stream is a real-time source (one 0.1 s block every 0.1 s, its own thread) looping
the real MP3 clips of ../shared/data/music at its own offset. Before the clock starts
every engine's context is filled with 30 s of audio (the FFT only, no model call), so
the measured phase is the steady state a live stream spends its life in: a full 30 s
context per update. A run *keeps up* when, over ``--seconds`` of audio per stream, every
stream produced every column (none skipped), the lag from a block's arrival to its
update stays under ``--lag-limit`` ms at p99, and the last update comes within
``--lag-limit`` ms of the last block's due time (a stream that falls behind real time
finishes late, whatever its per-update lags say). Stream counts are
tried in increasing steps until one fails, per mode. The model's own CPU cost per
context, alone and in a batch, is recorded beside them.

    nice -n 10 python bench/streams.py [--seconds 20] [--json bench/streams-cpu.json]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, percentiles, save
from genrescope.model.session import GenreModel
from genrescope.stream.engine.engine import EngineConfig, GenreEngine
from genrescope.stream.engine.multi import MAX_BATCH, BatchScheduler, StreamUpdate
from genrescope.stream.sources.audio_file import read_audio
from genrescope.stream.sources.chunk import AudioChunk
from genrescope.training.genre.config import DEFAULT_DATA_ROOT

BLOCK_SECONDS = 0.1
COUNTS = (8, 16, 24, 32, 48, 64, 80, 96, 128, 144, 160, 192, 256, 320, 384, 416, 448, 512)


class PacedLoop:
    """A live source: blocks of a loop of audio, each due ``BLOCK_SECONDS`` after the
    last, from ``start`` (monotonic; set once every engine is ready) for ``seconds``."""

    def __init__(self, audio: np.ndarray, rate: int, offset: int, seconds: float):
        self.audio, self.rate, self.offset, self.seconds = audio, rate, offset, seconds
        self.start = 0.0

    def warm_up(self, seconds: float) -> AudioChunk:
        """The audio before the clock starts (fills the context)."""
        count = int(seconds * self.rate)
        return AudioChunk(self._take(self.offset - count, count), self.rate)

    def _take(self, at: int, count: int) -> np.ndarray:
        """``count`` samples from ``at`` on, wrapping round the loop: a slice (a view)
        when they do not wrap, so the stand-in source costs next to nothing beside the
        engine it feeds."""
        at %= len(self.audio)
        if at + count <= len(self.audio):
            return self.audio[at : at + count, None]
        return np.concatenate([self.audio[at:], self.audio[: at + count - len(self.audio)]])[:, None]

    def __iter__(self) -> Iterator[AudioChunk]:
        block = int(BLOCK_SECONDS * self.rate)
        for i in range(int(self.seconds / BLOCK_SECONDS)):
            time.sleep(max(0.0, self.start + (i + 1) * BLOCK_SECONDS - time.monotonic()))
            yield AudioChunk(self._take(self.offset + i * block, block), self.rate)


CONFIG = EngineConfig(frontend_device="cpu")


def _ready(engines: list[GenreEngine], sources: list[PacedLoop], context_seconds: float) -> float:
    """Fill every engine's context without running the model (its columns are dropped),
    then start every source's clock together; the process's CPU seconds so far, so that
    the trial's CPU counts the measured phase only."""
    for engine, source in zip(engines, sources, strict=True):
        engine.prepare(source.warm_up(context_seconds + 1.0))
    start = time.monotonic() + 0.5
    for source in sources:
        source.start = start
    return time.process_time()


def run_batched(
    model: GenreModel, sources: list[PacedLoop], context: float, max_batch: int
) -> tuple[dict[int, list[int]], list[float], float, float]:
    columns: dict[int, list[int]] = {i: [] for i in range(len(sources))}
    lags: list[float] = []

    def sink(event) -> None:
        if isinstance(event, StreamUpdate):
            columns[int(event.stream)].append(event.update.column)
            lags.append(event.lag_ms)

    scheduler = BatchScheduler(model, [(str(i), s) for i, s in enumerate(sources)], [sink], CONFIG, max_batch=max_batch)
    cpu_at_start = _ready([stream.engine for stream in scheduler.streams], sources, context)
    scheduler.start()
    scheduler.wait()
    return columns, lags, scheduler.batch_sizes.mean, time.process_time() - cpu_at_start


def run_separate(
    model_path: Path | None, sources: list[PacedLoop], context: float
) -> tuple[dict[int, list[int]], list[float], float, float]:
    columns: dict[int, list[int]] = {i: [] for i in range(len(sources))}
    lags: list[float] = []
    engines = [GenreEngine(GenreModel.load(model_path, threads=1, prefer_gpu=False), CONFIG) for _ in sources]
    cpu_at_start = _ready(engines, sources, context)

    def run(index: int) -> None:
        for chunk in sources[index]:
            arrived = time.monotonic()
            for update in engines[index].process(chunk):
                columns[index].append(update.column)
                lags.append((time.monotonic() - arrived) * 1e3)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(sources))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return columns, lags, 1.0, time.process_time() - cpu_at_start  # one context per model call


def trial(mode: str, count: int, audio: np.ndarray, rate: int, args: argparse.Namespace, model: GenreModel) -> dict:
    step = len(audio) // max(count, 1)
    sources = [PacedLoop(audio, rate, i * step, args.seconds) for i in range(count)]
    context = model.card.frontend.context_seconds
    if mode == "batched":
        columns, lags, mean_batch, cpu_used = run_batched(model, sources, context, args.max_batch)
    else:
        columns, lags, mean_batch, cpu_used = run_separate(args.model, sources, context)
    finished = time.monotonic()
    # how late the last update came after the last block was due: a backlog, if any, is
    # largest at the end (a thread that reads its own source, as each separate engine
    # does, stamps a late block as it reads it, so per-update lags alone would miss it)
    end_lag_ms = (finished - (sources[0].start + args.seconds)) * 1e3
    expected = int(args.seconds / model.card.frontend.column_seconds) - 1
    complete = all(len(c) >= expected and c == list(range(c[0], c[0] + len(c))) for c in columns.values())
    lag = percentiles(lags) if lags else {"p99": float("inf")}
    kept_up = complete and lag["p99"] <= args.lag_limit and end_lag_ms <= args.lag_limit
    result = {
        "mode": mode,
        "streams": count,
        "kept_up": kept_up,
        "every_column": complete,
        "lag_ms": lag,
        "end_lag_ms": end_lag_ms,
        "cpu_seconds_per_audio_second": cpu_used / args.seconds,
        "mean_batch": mean_batch,
    }
    print(
        f"{mode:>8} {count:4d} streams: {'kept up' if kept_up else 'FELL BEHIND'}; every column: {complete}; "
        f"lag p50 {lag.get('p50', float('nan')):.0f} ms, p99 {lag['p99']:.0f} ms, at the end {end_lag_ms:.0f} ms; "
        f"CPU {result['cpu_seconds_per_audio_second']:.2f} s/s; mean batch {result['mean_batch']:.1f}",
        file=sys.stderr,
        flush=True,
    )
    return result


def model_cost(model: GenreModel, max_batch: int, repeats: int = 20) -> dict[str, float]:
    """CPU ms per full 30 s context of one model call alone and in a batch of
    ``max_batch`` (one thread, median of ``repeats``): what batching saves in the model
    itself, beside what it saves around it."""
    rng = np.random.default_rng(0)
    spec = model.card.frontend
    cost = {}
    for batch in (1, max_batch):
        contexts = rng.uniform(spec.floor_db, 0, (batch, spec.context_columns, spec.n_mels)).astype(np.float32)
        model.logits(contexts)
        times = []
        for _ in range(repeats):
            started = time.thread_time()
            model.logits(contexts)
            times.append((time.thread_time() - started) * 1e3 / batch)
        cost[f"batch_{batch}"] = float(np.median(times))
    return cost


def largest(mode: str, run: Callable[[int], dict]) -> tuple[int, list[dict]]:
    """The largest stream count of COUNTS that keeps up, trying upwards until one fails."""
    best, results = 0, []
    for count in COUNTS:
        result = run(count)
        results.append(result)
        if not result["kept_up"]:
            break
        best = count
    return best, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--seconds", type=float, default=20.0, help="audio per stream per trial (default 20 s)")
    parser.add_argument(
        "--lag-limit",
        type=float,
        default=1000.0,
        metavar="MS",
        help="p99 lag from a block's arrival to its update that still counts as keeping up "
        "(default 1000: ≈4 columns; a backlog that grows passes it within seconds)",
    )
    parser.add_argument("--max-batch", type=int, default=MAX_BATCH)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    clips = sorted((DEFAULT_DATA_ROOT / "music").glob("*.mp3"))
    if not clips:
        sys.exit(f"bench/streams.py: no MP3 clips under {DEFAULT_DATA_ROOT / 'music'}")
    model = GenreModel.load(args.model, threads=1, prefer_gpu=False)
    rate = model.card.frontend.sample_rate
    audio = np.concatenate([read_audio(clip, rate) for clip in clips])
    results = {
        "machine": machine(),
        "load_average_at_start": os.getloadavg(),
        "seconds_per_trial": args.seconds,
        "lag_limit_ms": args.lag_limit,
        "max_batch": args.max_batch,
        "model_cpu_ms_per_context": model_cost(model, args.max_batch),
    }
    for mode in ("batched", "separate"):
        best, trials = largest(mode, lambda n, mode=mode: trial(mode, n, audio, rate, args, model))
        results[mode] = {"largest_kept_up": best, "trials": trials}
    results["load_average_at_end"] = os.getloadavg()
    separate = results["separate"]["largest_kept_up"]
    results["ratio"] = results["batched"]["largest_kept_up"] / separate if separate else None
    save(results, args.json)


if __name__ == "__main__":
    main()
