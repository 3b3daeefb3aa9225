"""Tag a music library: many files, one whole-file genre estimate each, one engine per core.

Each file goes through the same engine that streams live (one update per column over up
to 30 s of context). Its tags are the mean of the raw per-update probabilities, so a
song is judged on all of it, not on its last 30 s. Files are spread over worker
processes with one single-threaded engine each: one update is too small to share cores,
whole files are not. A file that cannot be decoded becomes a result carrying its error,
and the batch goes on.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from genrescope.model.pitch import NO_KEY, KeyEstimate, file_key
from genrescope.stream.audio_file import AudioFileError
from genrescope.stream.engine import EngineConfig, GenreEngine, load_engine
from genrescope.stream.events import ranked
from genrescope.stream.filesource import FileSource

# What a folder walk picks up; files named explicitly are tried whatever their suffix.
AUDIO_SUFFIXES = frozenset({".mp3", ".flac", ".ogg", ".oga", ".opus", ".wav", ".m4a", ".aac", ".wma",
                            ".aif", ".aiff", ".mp4", ".webm"})


@dataclass(frozen=True)
class FileTags:
    """The whole-file estimate for one file, or why there is none."""

    path: str
    audio_seconds: float = 0.0
    probabilities: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    key: KeyEstimate = NO_KEY  # the whole file's key (model/pitch.py)

    @property
    def genre(self) -> str | None:
        return max(self.probabilities, key=self.probabilities.get) if self.probabilities else None

    def to_dict(self) -> dict:
        """JSON-ready; the key as its name ('A minor'), its tag form ('Am': ID3 TKEY,
        Vorbis KEY) and its confidence."""
        key = self.key.key
        return {**asdict(self), "genre": self.genre, "key": key.name if key else None,
                "key_tag": key.tag if key else None, "key_confidence": round(self.key.confidence, 3)}

    def text(self, top: int = 3) -> str:
        if self.error:
            return f"error: {self.error}"
        if not self.probabilities:
            return f"too short to tag ({self.audio_seconds:.1f} s)  {self.path}"
        best = ranked(self.probabilities.items())[:top]
        key = f"  key {self.key.name} ({self.key.confidence:.2f})" if self.key.key else ""
        return "  ".join(f"{genre} {p:.0%}" for genre, p in best) + f"{key}  {self.path}"


def find_audio(paths: Iterable[str | Path]) -> list[Path]:
    """Files named as such, plus the audio files under each folder (recursively, sorted)."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES))
        else:
            found.append(path)
    return found


def tag_file(engine: GenreEngine, path: Path) -> FileTags:
    """Stream ``path`` through ``engine`` at full speed and average its updates; the key
    is that of the mean chroma of all its updates."""
    engine.reset()
    try:
        updates = list(engine.run(FileSource(path)))
    except AudioFileError as error:
        return FileTags(str(path), error=str(error))
    seconds = engine.audio_seconds
    if not updates:
        return FileTags(str(path), seconds)
    mean = np.mean([update.raw_probabilities for update in updates], axis=0)
    key = file_key(np.array([update.chroma for update in updates if update.chroma]))
    return FileTags(str(path), seconds, {g: round(float(p), 4) for g, p in zip(engine.labels, mean)}, key=key)


_WORKER_ENGINE: GenreEngine | None = None


def tagging_engine(model_path: Path | None, cpu: bool) -> GenreEngine:
    """The engine one tagging process uses (single-threaded, see load_engine)."""
    return load_engine(model_path, EngineConfig(frontend_device="cpu" if cpu else "auto"), prefer_gpu=not cpu)


def start_worker(model_path: Path | None, cpu: bool) -> None:
    """Pool initializer: this worker process's engine, loaded once."""
    global _WORKER_ENGINE
    _WORKER_ENGINE = tagging_engine(model_path, cpu)


def tag_in_worker(path: Path) -> FileTags:
    """``tag_file`` on the worker's own engine (see start_worker)."""
    assert _WORKER_ENGINE is not None, "worker started without its engine"
    return tag_file(_WORKER_ENGINE, path)


def tag_library(paths: list[Path], model_path: Path | None = None, jobs: int = 1,
                cpu: bool = False) -> Iterator[FileTags]:
    """Tags for every path, in the order they finish; ``jobs`` worker processes.

    The workers are started and given every file before this returns, so they fork
    before the caller starts any thread of its own (a progress bar). Forked workers
    inherit the imported libraries and start in a fraction of a second (spawned ones
    re-import torch: ≈4 s each); each loads the model once. The parent never touches
    the model or CUDA, which keeps forking safe.
    """
    if jobs <= 1 or len(paths) <= 1:
        engine = tagging_engine(model_path, cpu)  # loaded now, not at the first next()
        return (tag_file(engine, path) for path in paths)
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    pool = ProcessPoolExecutor(min(jobs, len(paths)), mp_context=multiprocessing.get_context(method),
                               initializer=start_worker, initargs=(model_path, cpu))
    futures = [pool.submit(tag_in_worker, path) for path in paths]
    return _finished(pool, futures)


def _finished(pool: ProcessPoolExecutor, futures: list[Future]) -> Iterator[FileTags]:
    with pool:
        for done in as_completed(futures):
            yield done.result()
