"""Library tagging speed: decode only vs the batched tagger vs the per-update path.

On the same files in one run, three ways, on one core and on all cores:
  (a) decode only: the file to mono 44.1 kHz samples (``read_audio``: the tagger's decoding and
      resampling, then one concatenation);
  (b) ``genrescope tag``'s batched tagger (decode + columns + 30 s windows);
  (c) the per-update path (the file streamed through the live engine, mean of updates).
Reported: real-time factors (audio seconds per wall second) and each mode's time as a
multiple of decode-only. Targets (issue #14): (b) ≤ 2× (a), and (b) ≥ 5× faster than (c).
With ``--ray`` also the batched tagger on a two-node local Ray cluster (one machine),
whose overhead is stated against (b) on all cores; the timed run includes starting its
actor pool (Ray Data starts one per run), not the cluster.

The files: the real MP3 clips of ../shared/data/music (≈30 s) and, made from them with
ffmpeg, 4-minute MP3s (the clips looped and re-encoded), since songs are longer than 30 s
and the per-update path's cost grows with length.

    python bench/tag.py [--repeat 3] [--ray] [--json bench/tag-cpu.json]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, save
from genrescope.stream.engine.engine import numpy_on_one_thread
from genrescope.stream.sources.audio_file import read_audio
from genrescope.stream.tag.batch_tagger import DECODE_BLOCK_SECONDS
from genrescope.stream.tag.library import file_tagger
from genrescope.training.genre.config import DEFAULT_DATA_ROOT

MODES = ("decode", "batched", "per_update")
RATE = 44_100
_TAGGERS: dict = {}


def start(model: Path | None) -> None:
    """Load both taggers once (set-up, not per-file work), on one core per process as
    `genrescope tag`'s workers run."""
    numpy_on_one_thread()
    _TAGGERS["batched"] = file_tagger(model, cpu=True)
    _TAGGERS["per_update"] = file_tagger(model, cpu=True, per_update=True)


def run(mode: str, path: Path) -> float:
    """Audio seconds of ``path`` processed in ``mode`` (raises on a failed file)."""
    if mode == "decode":
        return len(read_audio(path, RATE, block_seconds=DECODE_BLOCK_SECONDS)) / RATE
    tags = _TAGGERS[mode](path)
    if tags.error:
        raise SystemExit(tags.error)
    return tags.audio_seconds


def one_core(files: list[Path], repeat: int) -> dict:
    """Each mode over every file, interleaved file by file, ``repeat`` rounds."""
    audio = dict.fromkeys(MODES, 0.0)
    wall = dict.fromkeys(MODES, 0.0)
    for _ in range(repeat):
        for path in files:
            for mode in MODES:
                started = time.perf_counter()
                audio[mode] += run(mode, path)
                wall[mode] += time.perf_counter() - started
    return _factors(audio, wall)


def all_cores(files: list[Path], repeat: int, model: Path | None, cores: int) -> dict:
    """Each mode over the files on ``cores`` worker processes, one after the other."""
    audio, wall = {}, {}
    with ProcessPoolExecutor(cores, initializer=start, initargs=(model,)) as pool:
        list(pool.map(run, MODES * cores, [files[0]] * (3 * cores)))  # warm every worker
        for mode in MODES:
            jobs = files * repeat
            started = time.perf_counter()
            audio[mode] = sum(pool.map(run, [mode] * len(jobs), jobs))
            wall[mode] = time.perf_counter() - started
    return _factors(audio, wall)


def _factors(audio: dict, wall: dict) -> dict:
    result = {
        mode: {
            "audio_seconds": round(audio[mode], 1),
            "wall_seconds": round(wall[mode], 3),
            "realtime_factor": round(audio[mode] / wall[mode], 1),
            "time_vs_decode_only": round(wall[mode] / wall["decode"], 2),
        }
        for mode in MODES
    }
    result["batched_speedup_over_per_update"] = round(wall["per_update"] / wall["batched"], 1)
    return result


def on_ray(files: list[Path], repeat: int, model: Path | None, cores: int) -> dict:
    """The batched tagger through tag_on_ray on a fresh two-node local cluster."""
    from ray.cluster_utils import Cluster

    from genrescope.stream.tag.ray_tagger import tag_on_ray

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": cores // 2 or 1})
    cluster.add_node(num_cpus=max(1, cores - cores // 2))
    try:
        list(tag_on_ray(files[:2], model, cluster.address, cores))  # warm: worker processes, imports
        jobs = [path for _ in range(repeat) for path in files]
        started = time.perf_counter()
        results = list(tag_on_ray(jobs, model, cluster.address, cores))
        wall = time.perf_counter() - started
    finally:
        import ray

        ray.shutdown()
        cluster.shutdown()
    audio = sum(tags.audio_seconds for tags in results)
    return {
        "nodes": 2,
        "actors": cores,
        "audio_seconds": round(audio, 1),
        "wall_seconds": round(wall, 3),
        "realtime_factor": round(audio / wall, 1),
        "failed": sum(tags.error is not None for tags in results),
    }


def make_files(folder: Path, clips: list[Path], long_seconds: float) -> list[Path]:
    """The clips, and one long MP3 per clip: the clip looped to ``long_seconds``, re-encoded."""
    made = []
    for clip in clips:
        long = folder / f"long-{clip.stem}.mp3"
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-y",
                "-stream_loop",
                "-1",
                "-i",
                str(clip),
                "-t",
                str(long_seconds),
                "-c:a",
                "libmp3lame",
                "-b:a",
                "192k",
                str(long),
            ],
            check=True,
        )
        made.append(long)
    return clips + made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="ONNX genre model (default: the shipped one)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--long-seconds", type=float, default=240.0)
    parser.add_argument("--ray", action="store_true", help="also on a two-node local Ray cluster")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    clips = sorted((DEFAULT_DATA_ROOT / "music").glob("*.mp3"))
    if not clips:
        raise SystemExit(f"no MP3 clips under {DEFAULT_DATA_ROOT / 'music'}")
    with tempfile.TemporaryDirectory() as folder:
        files = make_files(Path(folder), clips, args.long_seconds)
        start(args.model)
        for mode in MODES:
            run(mode, files[0])  # warm-up
        results = {
            "machine": machine(),
            "files": [f"{p.name} ({len(read_audio(p, RATE)) / RATE:.0f} s)" for p in files],
            "repeat": args.repeat,
            "one_core": one_core(files, args.repeat),
            "all_cores": {"workers": cores, **all_cores(files, args.repeat, args.model, cores)},
        }
        if args.ray:
            results["ray_two_nodes"] = ray = on_ray(files, args.repeat, args.model, cores)
            ray["overhead_vs_local_all_cores"] = round(
                ray["wall_seconds"] / results["all_cores"]["batched"]["wall_seconds"], 2
            )
    save(results, args.json)


if __name__ == "__main__":
    main()
