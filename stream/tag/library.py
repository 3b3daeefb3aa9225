"""Tag a music library: many files, one whole-file genre estimate each, one tagger per core.

``genrescope tag`` uses the batched tagger (stream.batch_tagger: whole 30 s windows,
the mean of their probabilities). ``tag_file`` keeps the older per-update way: the file
streamed through the live engine (one update per column), its tags the mean of the raw
per-update probabilities; bench/tag.py and bench/tag_agreement.py hold the two side by
side. Files are spread over worker processes with one single-threaded tagger each: one
model run is too small to share cores, whole files are not. A file that cannot be
decoded becomes a result carrying its error, and the batch goes on.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from functools import partial
from pathlib import Path

import numpy as np

from genrescope.model.frontend.pitch import file_key
from genrescope.stream.engine.engine import EngineConfig, GenreEngine, load_engine, numpy_on_one_thread
from genrescope.stream.segments.tagging import file_segments
from genrescope.stream.sources.audio_file import AudioFileError
from genrescope.stream.sources.filesource import FileSource
from genrescope.stream.tag.batch_tagger import load_batch_tagger
from genrescope.stream.tag.stop_signals import STOP_SIGNALS
from genrescope.stream.tag.tags import FileTags

# What a folder walk picks up; files named explicitly are tried whatever their suffix.
AUDIO_SUFFIXES = frozenset(
    {".mp3", ".flac", ".ogg", ".oga", ".opus", ".wav", ".m4a", ".aac", ".wma", ".aif", ".aiff", ".mp4", ".webm"}
)


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
    raw = np.array([update.raw_probabilities for update in updates])
    key = file_key(np.array([update.chroma for update in updates if update.chroma]))
    segments = file_segments([update.time for update in updates], raw, engine.labels, seconds)
    return FileTags.from_mean(str(path), seconds, engine.labels, raw.mean(axis=0), key, segments)


_WORKER_TAG: Callable[[Path], FileTags] | None = None


def tagging_engine(model_path: Path | None, cpu: bool) -> GenreEngine:
    """The streaming engine one tagging process uses (single-threaded, see load_engine)."""
    return load_engine(model_path, EngineConfig(frontend_device="cpu" if cpu else "auto"), prefer_gpu=not cpu)


def file_tagger(model_path: Path | None, cpu: bool, per_update: bool = False) -> Callable[[Path], FileTags]:
    """``path → FileTags`` on one thread: the batched tagger (stream.batch_tagger), or,
    with ``per_update``, the streaming engine's mean of updates (``tag_file``)."""
    if per_update:
        return partial(tag_file, tagging_engine(model_path, cpu))
    return load_batch_tagger(model_path, prefer_gpu=not cpu).tag


def start_worker(model_path: Path | None, cpu: bool, per_update: bool = False) -> None:
    """Pool initializer: this worker process's tagger, loaded once, on one core. Ctrl-C
    and SIGTERM (to the whole process group) are the parent's to handle: a worker
    finishes its file instead of dying mid-way, and the parent shuts the pool."""
    global _WORKER_TAG
    for number in STOP_SIGNALS:
        signal.signal(number, signal.SIG_IGN)
    numpy_on_one_thread()
    _WORKER_TAG = file_tagger(model_path, cpu, per_update)


def tag_in_worker(path: Path) -> FileTags:
    """Tags of ``path`` from the worker's own tagger (see start_worker)."""
    assert _WORKER_TAG is not None, "worker started without its tagger"
    return _WORKER_TAG(path)


def tag_library(
    paths: list[Path], model_path: Path | None = None, jobs: int = 1, cpu: bool = False, per_update: bool = False
) -> Iterator[FileTags]:
    """Tags for every path, in the order they finish; ``jobs`` worker processes.

    The workers are started and given every file before this returns, so they fork
    before the caller starts any thread of its own (a progress bar). Forked workers
    inherit the imported libraries and start in a fraction of a second; each loads the
    model once. The parent never touches the model or CUDA, which keeps forking safe.
    """
    if jobs <= 1 or len(paths) <= 1:
        tag = file_tagger(model_path, cpu, per_update)  # loaded now, not at the first next()
        return (tag(path) for path in paths)
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    pool = ProcessPoolExecutor(
        min(jobs, len(paths)),
        mp_context=multiprocessing.get_context(method),
        initializer=start_worker,
        initargs=(model_path, cpu, per_update),
    )
    futures = [pool.submit(tag_in_worker, path) for path in paths]
    return _finished(pool, futures)


def _finished(pool: ProcessPoolExecutor, futures: list[Future]) -> Iterator[FileTags]:
    """Results as they finish; closing early (Ctrl-C) drops the files not yet started
    and waits only for those in flight."""
    try:
        for done in as_completed(futures):
            yield done.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
