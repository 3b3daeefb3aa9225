"""Genre segments on medleys of real FMA validation clips: the smoother against argmax.

Medleys (bench/segment_medleys.py) of validation clips of known genre, several minutes per
genre, through the shipped model as the engine runs it (one update per column). On one
half of the validation artists the smoother's defaults are chosen: the switching cost
and minimum duration with the best boundary F-measure at ±7.5 s, each with its best
boundary delay, then the shortest online lag that loses nothing measurable against
offline decoding. On the other half, with those settings fixed, the smoother (offline
and online) is reported beside naive argmax change points of the engine's probabilities,
both its raw ones and its smoothed ones (the 2 s moving average the live views show),
each naive baseline with its own best delay from the tuning half.

    python bench/segments.py [--rounds 1] [--cache DIR] [--json bench/segments.json]

Metrics: bench/segment_scores.py. ``--cache`` keeps the model's probabilities per medley
set, so a second run only decodes.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, save
from bench.segment_medleys import Medley, build_medleys, split_artists, update_probabilities, update_times
from bench.segment_scores import Tally, score
from genrescope.model.session import GenreModel
from genrescope.stream.engine.config import EngineConfig
from genrescope.stream.segments import OnlineSegmenter, Segment, SegmentConfig, segment
from genrescope.training.genre.config import DEFAULT_DATA_ROOT
from genrescope.training.genre.fma import read_small_split

# A coarse grid, then a finer one around its best point (cost ×/÷ 2, duration ×/÷ 1.5).
SWITCH_COSTS = (2, 8, 32, 128)  # nat-seconds
MIN_DURATIONS_S = (0, 30, 60, 120)
DELAYS_S = tuple(np.arange(0, 20.5, 0.5))
LAGS_S = (30, 60, 120, 180, 240, 300)
TAG_HOP_COLUMNS = 32  # genrescope tag's windows: one full 30 s window every 7.5 s (stream.batch_tagger)
# The online lag may cost at most this much F-measure and time accuracy against offline:
# less than one boundary of the tuning half's ≈40 (0.025 of recall).
LAG_TOLERANCE = 0.02
NAIVE = SegmentConfig(switch_cost=0.0, min_duration_s=0.0, delay_s=0.0)  # exactly argmax change points


@dataclass
class Run:
    """One medley with the model's updates over it."""

    medley: Medley
    times: np.ndarray  # [U] seconds
    raw: np.ndarray  # [U, G] calibrated probabilities of each update
    smoothed: np.ndarray  # [U, G] the engine's moving average of them


def moving_average(raw: np.ndarray, column_seconds: float) -> np.ndarray:
    """The engine's exponential moving average (``EngineConfig.smoothing_seconds``)."""
    alpha = 1.0 - math.exp(-column_seconds / EngineConfig().smoothing_seconds)
    out = np.empty_like(raw)
    out[0] = raw[0]
    for index in range(1, len(raw)):
        out[index] = out[index - 1] + alpha * (raw[index] - out[index - 1])
    return out


def medley_runs(model: GenreModel, medleys: list[Medley], cache: Path | None) -> list[Run]:
    """Every medley's updates, from the cache when it holds them."""
    if cache is not None and cache.exists():
        with np.load(cache) as stored:
            probabilities = [stored[str(i)] for i in range(len(medleys))]
    else:
        probabilities, started = [], time.monotonic()
        for index, medley in enumerate(medleys):
            probabilities.append(update_probabilities(model, medley))
            print(
                f"  medley {index + 1}/{len(medleys)}: {len(medley.columns)} columns, "
                f"{time.monotonic() - started:.0f} s",
                file=sys.stderr,
            )
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cache, **{str(i): p for i, p in enumerate(probabilities)})
    column_seconds = model.card.frontend.column_seconds
    return [
        Run(m, update_times(model, len(p), len(m.columns)), p, moving_average(p, column_seconds))
        for m, p in zip(medleys, probabilities, strict=True)
    ]


def decode(
    runs: list[Run],
    labels: tuple[str, ...],
    config: SegmentConfig,
    smoothed: bool = False,
    lag: bool = False,
    column_seconds: float = 0.0,
) -> list[list[Segment]]:
    """Each run's segments with no boundary delay (the delay is applied when scoring)."""
    config = replace(config, delay_s=0.0)
    if not lag:
        return [segment(r.times, r.smoothed if smoothed else r.raw, labels, config) for r in runs]
    found = []
    for run in runs:
        segmenter = OnlineSegmenter(labels, config, update_seconds=column_seconds)
        segments = [s for t, p in zip(run.times, run.raw, strict=True) for s in segmenter.push(t, p)]
        found.append(segments + segmenter.flush())
    return found


def tally(
    runs: list[Run], found: list[list[Segment]], delay_s: float, labels: tuple[str, ...], column_seconds: float
) -> Tally:
    total = Tally()
    for run, segments in zip(runs, found, strict=True):
        total.add(score(segments, delay_s, *run.medley.true_intervals(column_seconds), labels, column_seconds))
    return total


def best_delay(
    runs: list[Run], found: list[list[Segment]], labels: tuple[str, ...], column_seconds: float
) -> tuple[float, dict]:
    """The boundary delay with the best F-measure (then time accuracy), and its scores."""
    scored = [(d, tally(runs, found, d, labels, column_seconds).summary()) for d in DELAYS_S]
    delay, summary = max(scored, key=lambda item: (item[1]["boundary_f"], item[1]["time_accuracy"]))
    return float(delay), summary


def tune(runs: list[Run], labels: tuple[str, ...], column_seconds: float) -> dict:
    """The defaults, from the tuning half: cost, minimum duration, delay, then the lag."""
    grid: dict[tuple[float, float], dict] = {}

    def point(cost: float, minimum: float) -> dict:
        if (cost, minimum) not in grid:
            config = SegmentConfig(switch_cost=cost, min_duration_s=minimum)
            delay, summary = best_delay(runs, decode(runs, labels, config), labels, column_seconds)
            grid[cost, minimum] = {"switch_cost": cost, "min_duration_s": minimum, "delay_s": delay, **summary}
            print(
                f"  cost {cost:g}, min {minimum:g} s: F {summary['boundary_f']:.3f}, "
                f"time {summary['time_accuracy']:.3f} (delay {delay:g} s)",
                file=sys.stderr,
            )
        return grid[cost, minimum]

    def best_point(rows: list[dict]) -> dict:
        return max(rows, key=lambda row: (row["boundary_f"], row["time_accuracy"]))

    coarse = best_point([point(c, m) for c in SWITCH_COSTS for m in MIN_DURATIONS_S])
    best = best_point(
        [
            point(coarse["switch_cost"] * f, round(coarse["min_duration_s"] * g))
            for f in (0.5, 1, 2)
            for g in (1 / 1.5, 1, 1.5)
        ]
    )
    chosen = SegmentConfig(
        switch_cost=best["switch_cost"], min_duration_s=best["min_duration_s"], delay_s=best["delay_s"]
    )
    lags, offline = [], (best["boundary_f"], best["time_accuracy"])
    for lag_s in LAGS_S:
        found = decode(runs, labels, replace(chosen, lag_s=lag_s), lag=True, column_seconds=column_seconds)
        summary = tally(runs, found, chosen.delay_s, labels, column_seconds).summary()
        lags.append({"lag_s": lag_s, **summary})
        print(f"  lag {lag_s} s: F {summary['boundary_f']:.3f}, time {summary['time_accuracy']:.3f}", file=sys.stderr)
    good = [
        row
        for row in lags
        if offline[0] - row["boundary_f"] <= LAG_TOLERANCE and offline[1] - row["time_accuracy"] <= LAG_TOLERANCE
    ]
    chosen = replace(chosen, lag_s=float(good[0]["lag_s"] if good else LAGS_S[-1]))
    naive = {
        name: best_delay(runs, decode(runs, labels, NAIVE, smoothed=smoothed), labels, column_seconds)[0]
        for name, smoothed in (("raw", False), ("smoothed", True))
    }
    return {
        "grid": sorted(grid.values(), key=lambda row: (row["switch_cost"], row["min_duration_s"])),
        "lags": lags,
        "chosen": chosen,
        "naive_delay_s": naive,
    }


def tag_windows(runs: list[Run], context_columns: int) -> list[Run]:
    """What `genrescope tag` sees of each medley: full windows only, 7.5 s apart."""
    thinned = []
    for run in runs:
        first = context_columns - 1 - (len(run.medley.columns) - len(run.times))  # the first full window
        keep = np.arange(first, len(run.times), TAG_HOP_COLUMNS)
        thinned.append(Run(run.medley, run.times[keep], run.raw[keep], run.smoothed[keep]))
    return thinned


def report(runs: list[Run], labels: tuple[str, ...], column_seconds: float, tuned: dict, context_columns: int) -> dict:
    """The held-out half with every setting fixed."""
    chosen: SegmentConfig = tuned["chosen"]
    windows = tag_windows(runs, context_columns)
    methods = {
        "smoother_tag_windows": (decode(windows, labels, chosen), chosen.delay_s),
        "smoother_offline": (decode(runs, labels, chosen), chosen.delay_s),
        "smoother_online": (decode(runs, labels, chosen, lag=True, column_seconds=column_seconds), chosen.delay_s),
        "naive_raw": (decode(runs, labels, NAIVE), tuned["naive_delay_s"]["raw"]),
        "naive_smoothed": (decode(runs, labels, NAIVE, smoothed=True), tuned["naive_delay_s"]["smoothed"]),
    }
    results = {
        name: {
            "delay_s": delay,
            **tally(windows if name.endswith("windows") else runs, found, delay, labels, column_seconds).summary(),
        }
        for name, (found, delay) in methods.items()
    }
    for name in ("naive_raw", "naive_smoothed"):
        for method in ("smoother_offline", "smoother_online"):
            ours, naive = results[method], results[name]
            results[f"{method}_vs_{name}"] = {
                "time_accuracy_at_least_naive": ours["time_accuracy"] >= naive["time_accuracy"],
                "spurious_ratio": round(ours["spurious_boundaries"] / max(1, naive["spurious_boundaries"]), 3),
                "spurious_at_most_half": ours["spurious_boundaries"] <= naive["spurious_boundaries"] / 2,
            }
    return results


def describe(runs: list[Run], column_seconds: float) -> dict:
    medleys = [r.medley for r in runs]
    return {
        "medleys": len(medleys),
        "clips": sum(len(m.clip_starts) for m in medleys),
        "hours": round(sum(len(m.columns) for m in medleys) * column_seconds / 3600, 2),
        "genre_blocks": sum(len(m.block_genres) for m in medleys),
        "genre_boundaries": sum(len(m.block_genres) - 1 for m in medleys),
        "clip_boundaries_within_a_genre": sum(len(m.clip_starts) - len(m.block_genres) for m in medleys),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT, help="folder holding fma_small/")
    parser.add_argument("--rounds", type=int, default=1, help="medley sets per half, each a new random order")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=None, help="folder keeping the model's probabilities")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()
    fma = args.data_root / "fma_small"
    model = GenreModel.load(None, threads=1, prefer_gpu=False)
    labels, column_seconds = tuple(model.labels), model.card.frontend.column_seconds
    validation = [t for t in read_small_split(fma / "tracks_small.csv") if t.split == "validation"]
    halves = dict(zip(("tune", "report"), split_artists(validation, args.seed), strict=True))
    runs: dict[str, list[Run]] = {}
    for name, tracks in halves.items():
        runs[name] = []
        for round_ in range(args.rounds):
            print(f"{name} half, round {round_ + 1}: the model over the medleys", file=sys.stderr)
            medleys = build_medleys(tracks, fma, seed=1000 * args.seed + 10 * round_ + (name == "report"))
            cache = args.cache / f"{model.card.version}-{name}-{args.seed}-{round_}.npz" if args.cache else None
            runs[name] += medley_runs(model, medleys, cache)
    print("tuning", file=sys.stderr)
    tuned = tune(runs["tune"], labels, column_seconds)
    chosen: SegmentConfig = tuned["chosen"]
    results = {
        "machine": machine(),
        "model": model.card.version,
        "command": "python bench/segments.py " + " ".join(sys.argv[1:]),
        "window_s": 7.5,
        "data": {name: describe(r, column_seconds) for name, r in runs.items()},
        "chosen": {
            "switch_cost": chosen.switch_cost,
            "min_duration_s": chosen.min_duration_s,
            "delay_s": chosen.delay_s,
            "lag_s": chosen.lag_s,
        },
        "tuning": {key: tuned[key] for key in ("grid", "lags", "naive_delay_s")},
        "report": report(runs["report"], labels, column_seconds, tuned, model.card.frontend.context_columns),
    }
    save(results, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
