"""The airplay log over hours of audio: is memory flat, and how fast does the log grow?

Several named streams run through the real batch scheduler, the shipped model and the
airplay recorder into a real SQLite log (``serve --log``'s code path, without the
websockets), each fed at full speed instead of 1×: a source yields its next block only
while it is less than ``AHEAD_SECONDS`` of audio ahead of its own updates, so the
scheduler's inbox stays small and the speed is whatever the machine gives. The recorder
keeps each stream's times as if it played at 1× (its clock is the audio's), so the
smoother's durations mean seconds of music and the rows are what a day of airplay writes.

The streams loop the real MP3 clips of ../shared/data/music (decoded once, sliced):
``switching`` alternates the two clips of different genres every 30 s, the smoother's
minimum segment (the worst case for the log's size), ``steady-1``/``steady-2`` loop one
clip each, ``synth`` loops the synthesised demo. Every ``--sample-seconds`` it samples
the process's resident memory, the audio done and the log's size (the file and its WAL,
which SQLite recycles at ≈4 MB); at the end it prints the least-squares slope of the
memory over the second half of the run (MB per hour of audio per stream) and the closed
log's size per stream-day, and writes every sample as JSON.

    nice -n 10 python bench/airplay.py --hours 1.5 --json bench/airplay-cpu.json
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, save
from genrescope.model.cover.fusion import AUDIO_GENRES
from genrescope.model.session import GenreModel
from genrescope.stream.engine.multi import BatchScheduler, Event, StreamUpdate
from genrescope.stream.segments import Segment, SegmentConfig
from genrescope.stream.segments.airplay import AirplayRecorder
from genrescope.stream.segments.airplay_log import AirplayLog
from genrescope.stream.sources.audio_file import read_audio
from genrescope.stream.sources.chunk import AudioChunk
from genrescope.stream.sources.demo import DemoSource
from genrescope.training.genre.config import DEFAULT_DATA_ROOT

BLOCK_SECONDS = 0.5
AHEAD_SECONDS = 10.0  # a source waits while this much of its audio has no update yet
DAY_HOURS = 24.0


class FastLoop:
    """Blocks of a loop of audio, as fast as the stream's updates follow, for ``hours``."""

    def __init__(self, audio: np.ndarray, rate: int, hours: float, progress: Progress, name: str):
        self.audio, self.rate, self.name = audio, rate, name
        self.total = int(hours * 3600 * rate)
        self._progress = progress

    def __iter__(self) -> Iterator[AudioChunk]:
        block, delivered = int(BLOCK_SECONDS * self.rate), 0
        while delivered < self.total:
            while delivered / self.rate - self._progress.seconds(self.name) > AHEAD_SECONDS:
                time.sleep(0.01)
            at = delivered % len(self.audio)
            samples = np.take(self.audio, np.arange(at, at + block), mode="wrap")
            yield AudioChunk(samples[:, None], self.rate)
            delivered += block


class Progress:
    """Each stream's newest update time (the scheduler's sink)."""

    def __init__(self) -> None:
        self._seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    def sink(self, event: Event) -> None:
        if isinstance(event, StreamUpdate):
            with self._lock:
                self._seconds[event.stream] = event.update.time

    def seconds(self, name: str) -> float:
        with self._lock:
            return self._seconds.get(name, 0.0)

    def total_hours(self) -> float:
        with self._lock:
            return sum(self._seconds.values()) / 3600


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def log_bytes(path: Path) -> dict[str, int]:
    return {
        suffix or "db": (Path(f"{path}{suffix}").stat().st_size if Path(f"{path}{suffix}").exists() else 0)
        for suffix in ("", "-wal")
    }


def streams(rate: int, hours: float, progress: Progress) -> list[tuple[str, FastLoop]]:
    clips = sorted((DEFAULT_DATA_ROOT / "music").glob("*.mp3"))
    if len(clips) < 2:
        sys.exit(f"needs the two real clips of {DEFAULT_DATA_ROOT / 'music'}")
    first, second = (read_audio(clip, rate)[: 30 * rate] for clip in clips[:2])
    synth = np.concatenate([chunk.samples.mean(axis=1) for chunk in DemoSource(realtime=False, seconds=60)])
    synth = read_resampled(synth, 44_100, rate)
    loops = {"switching": np.concatenate([first, second]), "steady-1": first, "steady-2": second, "synth": synth}
    return [(name, FastLoop(audio.astype(np.float32), rate, hours, progress, name)) for name, audio in loops.items()]


def read_resampled(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    import soxr

    return soxr.resample(audio, rate, target)


def slope(xs: list[float], ys: list[float]) -> float:
    return float(np.polyfit(xs, ys, 1)[0]) if len(xs) > 1 else 0.0


def run(hours: float, sample_seconds: float, folder: Path) -> dict:
    model = GenreModel.load(None, threads=1)
    rate = model.card.frontend.sample_rate
    progress = Progress()
    path = folder / "airplay.sqlite"
    log = AirplayLog(path)
    sources = streams(rate, hours, progress)
    recorder = AirplayRecorder(log, model.labels, model.card.frontend.column_seconds)
    scheduler = BatchScheduler(model, sources, [progress.sink, recorder.sink])
    started, samples = time.monotonic(), []
    scheduler.start()
    while not scheduler.wait(sample_seconds):
        samples.append(sample(started, progress, path, len(sources)))
        print(
            f"{samples[-1]['wall_s']:7.0f} s  {samples[-1]['audio_hours_per_stream']:.2f} h/stream  "
            f"RSS {samples[-1]['rss_mb']:.0f} MB  log {samples[-1]['log_bytes']['db'] / 1024:.0f} KiB",
            flush=True,
        )
    recorder.close()
    samples.append(sample(started, progress, path, len(sources)))
    rows = len(log.segments())
    log.close()  # the last connection folds the WAL into the file: its size is the log's
    return summary(samples, rows, len(sources), model, path.stat().st_size)


def sample(started: float, progress: Progress, path: Path, stream_count: int) -> dict:
    return {
        "wall_s": time.monotonic() - started,
        "audio_hours_per_stream": progress.total_hours() / stream_count,
        "rss_mb": rss_mb(),
        "log_bytes": log_bytes(path),
    }


def summary(samples: list[dict], rows: int, stream_count: int, model: GenreModel, closed_bytes: int) -> dict:
    half = samples[len(samples) // 2 :]
    hours = [s["audio_hours_per_stream"] for s in half]
    final = samples[-1]
    stream_days = final["audio_hours_per_stream"] * stream_count / DAY_HOURS
    return {
        "machine": machine(),
        "model": model.card.version,
        "streams": stream_count,
        "audio_hours_per_stream": final["audio_hours_per_stream"],
        "wall_seconds": final["wall_s"],
        "speed_x_real_time_all_streams": final["audio_hours_per_stream"] * stream_count * 3600 / final["wall_s"],
        "rss_mb_first_last": [samples[0]["rss_mb"], final["rss_mb"]],
        "rss_mb_per_audio_hour_second_half": slope(hours, [s["rss_mb"] for s in half]),
        "segments_logged": rows,
        "segments_per_stream_day": rows / stream_days,
        "log_bytes_largest_wal": max(s["log_bytes"]["-wal"] for s in samples),
        "log_bytes_closed": closed_bytes,
        "log_bytes_per_stream_day": closed_bytes / stream_days,
        "samples": samples,
    }


def worst_case_day(folder: Path) -> dict:
    """The log's size after one stream-day at the smoother's shortest segments (30 s:
    2,880 rows), written as the recorder writes them (each row with a checkpoint, one
    transaction each): the upper bound of a day's growth, whatever the music."""
    path = folder / "worst.sqlite"
    with AirplayLog(path) as log:
        log.set_labels(AUDIO_GENRES)
        start = time.time()
        rows = int(DAY_HOURS * 3600 / SegmentConfig().min_duration_s)
        for i in range(rows):
            finished = Segment(start + 30 * i, start + 30 * (i + 1), AUDIO_GENRES[i % 8], 0.51234, i % 5 == 0)
            running = Segment(start + 30 * (i + 1), start + 30 * (i + 1) + 5, AUDIO_GENRES[(i + 1) % 8], 0.4, False)
            log.record("radio-one", [(finished, "genre")], running)
    return {"rows": rows, "log_bytes": path.stat().st_size, "bytes_per_row": path.stat().st_size / rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--hours",
        type=float,
        default=1.5,
        help="hours of audio per stream (default 1.5: 6 hours over the four streams)",
    )
    parser.add_argument("--sample-seconds", type=float, default=15.0, help="wall seconds between samples")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument(
        "--worst-case-only",
        action="store_true",
        help="only the log's size after a stream-day of 30 s segments (seconds, no audio)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        worst = worst_case_day(Path(folder))
        results = (
            {"machine": machine(), "worst_case_day": worst}
            if args.worst_case_only
            else {**run(args.hours, args.sample_seconds, Path(folder)), "worst_case_day": worst}
        )
    save(results, args.json)


if __name__ == "__main__":
    main()
