"""Peak memory of ``genrescope tag`` on one long file: what a DJ set or a radio show
recording costs. The file is one of the real clips of ../shared/data/music looped with
ffmpeg (``-stream_loop``, no re-encoding) to ``--minutes``; ``genrescope tag`` runs on
it with one job in a child process, whose peak resident set size is read back from the
kernel (``RUSAGE_CHILDREN``), with its wall time and the same for a 30 s clip as a floor.

    python bench/tag_memory.py [--minutes 30] [--json out.json]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, save
from genrescope.training.genre.config import DEFAULT_DATA_ROOT

GENRESCOPE = Path(sys.executable).with_name("genrescope")


def looped(clip: Path, minutes: float, out: Path) -> Path:
    """``clip`` repeated end to end until it lasts at least ``minutes``."""
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(clip)],
        capture_output=True,
        text=True,
        check=True,
    )
    loops = int(minutes * 60 / float(probe.stdout)) + 1
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-stream_loop",
            str(loops - 1),
            "-i",
            str(clip),
            "-c",
            "copy",
            str(out),
        ],
        check=True,
    )
    return out


def tag_once(path: Path, folder: Path) -> dict:
    """One ``genrescope tag`` of ``path`` in a fresh store, in a child process of its own
    (RUSAGE_CHILDREN keeps the largest child's peak, so the long file runs last)."""
    started = time.perf_counter()
    subprocess.run(
        [str(GENRESCOPE), "tag", str(path), "--jobs", "1", "--db", str(folder / f"{path.stem}.sqlite")],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return {
        "file": path.name,
        "wall_seconds": round(time.perf_counter() - started, 2),
        "peak_rss_mb_so_far": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0, help="length of the long file (default 30)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    clips = sorted((DEFAULT_DATA_ROOT / "music").glob("*.mp3"))
    if not clips:
        sys.exit(f"bench/tag_memory.py: no MP3 clips under {DEFAULT_DATA_ROOT / 'music'}")
    with tempfile.TemporaryDirectory() as folder:
        long_file = looped(clips[-1], args.minutes, Path(folder) / "long.mp3")
        short, long = tag_once(clips[-1], Path(folder)), tag_once(long_file, Path(folder))
    save({"machine": machine(), "minutes": args.minutes, "clip": short, "long_file": long}, args.json)


if __name__ == "__main__":
    main()
