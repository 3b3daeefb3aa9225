"""``genrescope tag``: a library tagged into a resumable store, exported, written into files.

The run: find the audio files, skip those the store already holds for this model (same
path, size and modification time; failed ones too unless ``--retry-failed``), tag the
rest with the batched tagger on every core (or on a Ray cluster), commit each result
as it arrives, optionally write the genres into the files, then optionally export the
store. Exit status: 0 when every file is tagged, 1 when any failed (this run or, not
retried, an earlier one), 2 for usage errors (and for a store another run is using),
130 after Ctrl-C and 143 after SIGTERM (everything finished so far is kept).

A run holds its store (tag/store.py held_store): runs that shared one would tag the same
files twice and write each other's files. Each result is written into its file and
recorded in the store with stop signals held (tag/stop_signals.py), so the two agree
however the run is stopped; the row's key is read from the file after its tags were
written, so a later run finds it done.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from genrescope.stream.checks import COUNT, SHARE, open_jsonl, output_file
from genrescope.stream.sources.spec import file_argument
from genrescope.stream.tag.stop_signals import sigterm_stops_cleanly, stop_signals_held, stop_status
from genrescope.stream.tag.store import FAILED, FileKey, StoredTags, TagStore, held_store
from genrescope.stream.tag.tags import FileTags, RunStopped

DESCRIPTION = """\
Tag a music library: one whole-file genre estimate per file, the mean of the model's
probabilities over 30 s windows (7.5 s apart) of the whole file, on every core.

Results go to a SQLite store (--db), one row per file and model version. A re-run
skips files already tagged (unless they changed), so a run stopped with Ctrl-C
resumes where it stopped; files that failed are tried again only with --retry-failed.
--write puts the genres into the files' own tags (ID3 TCON, Vorbis GENRE, MP4 ©gen),
the probabilities and the model version into genrescope's own fields; a genre already
there is kept unless --force. --export writes the store out. One run at a time uses a
store: a second one on the same --db stops at once.

exit status: 0 all tagged, 1 some failed, 2 usage error or store in use,
130 stopped by Ctrl-C, 143 by SIGTERM."""

EXAMPLES = """\
examples:
  genrescope tag ~/Music                        tag (or resume tagging) a library
  genrescope tag ~/Music --write --min-confidence 0.4   ...and write the genres into the files
  genrescope tag ~/Music --retry-failed         try the files that failed before again
  genrescope tag --export tags.csv              the store as CSV (also .jsonl, .parquet)
  genrescope tag /nfs/music --engine ray --address auto   on a Ray cluster (genrescope[ray])
"""


class TagUsageError(Exception):
    """A mistake in the command line of ``genrescope tag``: one line, exit 2."""


def add_tag_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description, parser.epilog = DESCRIPTION, EXAMPLES
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "paths", type=file_argument, nargs="*", metavar="PATH", help="audio files and/or folders (searched recursively)"
    )
    parser.add_argument(
        "--db",
        type=Path,
        default=None,
        help="the results store (default: tags.sqlite in the user's data folder, "
        "e.g. ~/.local/share/genrescope; or $GENRESCOPE_TAG_DB)",
    )
    parser.add_argument("--retry-failed", action="store_true", help="tag files that failed in an earlier run again")
    parser.add_argument(
        "--export",
        type=output_file,
        metavar="OUT",
        help="write the whole store to OUT.jsonl, OUT.csv (the segments of long files in "
        "OUT-segments.csv) or OUT.parquet (after tagging, if paths are given)",
    )
    parser.add_argument(
        "--jsonl",
        type=output_file,
        metavar="OUT",
        help="also write the results, one JSON object per file ('-' for stdout); files the store "
        'already held are there too, with "from_store": true',
    )
    write = parser.add_argument_group(
        "writing tags into the files (mutagen)",
        "The audio is copied as it is, but a tag that outgrows its padding means the whole\n"
        "file is rewritten. So each file is written as a copy beside it (it needs that much\n"
        "free space) that then replaces it in one step, keeping its permissions: a stop at\n"
        "any moment leaves every file either as it was or fully tagged, the store in step.",
    )
    write.add_argument("--write", action="store_true", help="write the genres into the files' tags")
    write.add_argument(
        "--min-confidence",
        type=SHARE,
        default=0.3,
        metavar="P",
        help="write every genre with at least this probability (default 0.3; none if no genre reaches it)",
    )
    write.add_argument("--force", action="store_true", help="replace a genre the file already has")
    engine = parser.add_argument_group("engine")
    engine.add_argument(
        "--jobs",
        type=COUNT,
        default=None,
        help="files tagged at once, one single-threaded tagger each (default: one per core)",
    )
    engine.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local processes (default) or a Ray cluster (pip install 'genrescope[ray]')",
    )
    engine.add_argument(
        "--address",
        default=None,
        help="Ray cluster to join: 'auto' (the local node's), HOST:PORT; default: start one here",
    )
    engine.add_argument("--model", type=Path, default=None, help="ONNX genre model (default: the shipped one)")
    engine.add_argument("--cpu", action="store_true", help="never use the GPU, even when there is one")


def check_arguments(args: argparse.Namespace) -> None:
    if not args.paths and args.export is None:
        raise TagUsageError("name files or folders to tag, or --export OUT to write the store out")
    if args.address is not None and args.engine != "ray":
        raise TagUsageError("--address is for --engine ray")
    if args.engine == "ray" and importlib.util.find_spec("ray") is None:
        raise TagUsageError("--engine ray needs Ray: pip install 'genrescope[ray]'")
    if args.export is not None:
        from genrescope.stream.tag.export import ExportError, check_export_path

        try:
            check_export_path(args.export)
        except ExportError as error:
            raise TagUsageError(str(error)) from error


@dataclass
class RunCounts:
    """What a run did, for its last line and its exit status."""

    tagged: int = 0
    failed: int = 0
    skipped_done: int = 0
    skipped_failed: int = 0
    write_failed: int = 0
    written: int = 0
    audio_seconds: float = 0.0
    kept_genre: list[str] = field(default_factory=list)
    stopped: str | None = None  # why the run could not go on (the engine failed)

    @property
    def ok(self) -> bool:
        return not (self.failed or self.skipped_failed or self.write_failed or self.stopped)


def run_tag(args: argparse.Namespace) -> int:
    from genrescope.stream.tag.store import open_store

    check_arguments(args)
    with sigterm_stops_cleanly(), open_store(args.db) as store, ExitStack() as held:
        if args.paths:
            held.enter_context(held_store(store.path))
        counts, stop = _tag_paths(args, store) if args.paths else (RunCounts(), None)
        if args.export is not None and stop is None:
            from genrescope.stream.tag.export import export

            print(f"exported {export(store, args.export)} rows to {args.export}", file=sys.stderr)
    if stop is not None:
        return stop_status(stop)
    return 0 if counts.ok else 1


def _tag_paths(args: argparse.Namespace, store: TagStore) -> tuple[RunCounts, KeyboardInterrupt | None]:
    """Tag (and write) what ``args.paths`` holds; the counts, and the stop that ended the
    run early (Ctrl-C or SIGTERM), if one did."""
    from genrescope.model.session import read_model_card
    from genrescope.stream.tag.library import find_audio

    paths = find_audio(args.paths)
    if not paths:
        raise TagUsageError(f"no audio files under {', '.join(map(str, args.paths))}")
    card = read_model_card(args.model)
    store.register_model(card.version, card.labels)
    keys = {str(path): FileKey.of(path) for path in paths}
    stored = store.statuses(keys.values(), card.version)
    counts = RunCounts()
    todo = []
    stop = None
    try:
        with ExitStack() as stack:
            jsonl = open_jsonl(args.jsonl, stack)
            for path in paths:
                key = keys[str(path)]
                status = stored.get(key)
                if status is None or (status == FAILED and args.retry_failed):
                    todo.append(path)
                    continue
                rewrite = args.write and status != FAILED
                row = store.get(key, card.version) if jsonl is not None or rewrite else None  # one read, if any
                if jsonl is not None:
                    _write_jsonl(row.file_tags(), jsonl, from_store=True)
                if status == FAILED:
                    counts.skipped_failed += 1
                else:
                    counts.skipped_done += 1
                    if rewrite:
                        with stop_signals_held():  # the file and its row change together
                            _write_stored(args, store, key, row, card.version, counts)
            _say_skipped(counts, store)
            if todo:
                _tag_todo(args, store, todo, keys, card.version, counts, jsonl)
    except KeyboardInterrupt as error:
        stop = error
    _say_done(counts, len(paths), stop is not None)
    return counts, stop


def _tag_todo(
    args: argparse.Namespace,
    store: TagStore,
    todo: list[Path],
    keys: dict[str, FileKey],
    version: str,
    counts: RunCounts,
    jsonl: IO[str] | None,
) -> None:
    """Tag ``todo`` into the store (a stop request propagates as KeyboardInterrupt)."""
    from genrescope.stream.tag.progress import TagProgress

    results = _results(args, todo)
    try:
        with TagProgress(len(todo)) as progress:
            for tags in results:
                # held: a stored row is always a shown row too, and a written file its row's
                with stop_signals_held():
                    _record(args, store, keys[tags.path], version, tags, counts)
                    _show(tags, jsonl)
                progress.advance(tags.audio_seconds)
    except RunStopped as error:
        counts.stopped = str(error)
    finally:
        results.close()


def _results(args: argparse.Namespace, todo: list[Path]) -> Iterator[FileTags]:
    jobs = args.jobs or os.cpu_count() or 1
    if args.engine == "ray":
        from genrescope.stream.tag.ray_tagger import tag_on_ray

        return tag_on_ray(todo, args.model, args.address, jobs if args.jobs else None)
    from genrescope.stream.tag.library import tag_library

    return iter(tag_library(todo, args.model, jobs, args.cpu))


def _record(
    args: argparse.Namespace, store: TagStore, key: FileKey, version: str, tags: FileTags, counts: RunCounts
) -> None:
    """One result into the store (after writing it into the file, whose mtime that moves)."""
    counts.audio_seconds += tags.audio_seconds
    if tags.error:
        counts.failed += 1
    else:
        counts.tagged += 1
        if args.write and tags.probabilities:
            key = _write(args, key, tags.probabilities, version, counts, tags.key.tag)
    store.put(key, version, tags)


def _write_stored(
    args: argparse.Namespace, store: TagStore, key: FileKey, row: StoredTags | None, version: str, counts: RunCounts
) -> None:
    """``--write`` on a file tagged in an earlier run: its stored ``row``, no model run."""
    if row is None or not row.probabilities:
        return
    new_key = _write(args, key, row.probabilities, version, counts, row.musical_key)
    if new_key != key:
        store.put(new_key, version, row.file_tags())


def _write(
    args: argparse.Namespace,
    key: FileKey,
    probabilities: dict[str, float],
    version: str,
    counts: RunCounts,
    musical_key: str | None = None,
) -> FileKey:
    """Write one file's genres (and its musical key when it has one); the file's store
    key afterwards, read from the file as it is now (whoever wrote it last)."""
    from genrescope.stream.tag.writer import TagWriteError, genre_fields, write_fields

    try:
        fields = genre_fields(probabilities, version, args.min_confidence, musical_key)
        result = write_fields(key.path, fields, args.force)
    except TagWriteError as error:
        counts.write_failed += 1
        print(f"error: writing tags: {error}", file=sys.stderr)
        return key
    counts.written += result.changed
    if result.kept:
        counts.kept_genre.append(key.path)
    return FileKey.of(Path(key.path))


def _show(tags: FileTags, jsonl: IO[str] | None) -> None:
    if jsonl is not sys.stdout:
        print(tags.text(), flush=True)
    _write_jsonl(tags, jsonl, from_store=False)


def _write_jsonl(tags: FileTags, jsonl: IO[str] | None, from_store: bool) -> None:
    """One file's line: a re-run still gives every named file's result, the stored ones
    marked, so that asking again for a finished library does not give an empty file."""
    if jsonl is not None:
        jsonl.write(json.dumps({**tags.to_dict(), "from_store": from_store}) + "\n")


def _say_skipped(counts: RunCounts, store: TagStore) -> None:
    if counts.skipped_done or counts.skipped_failed:
        failed = (
            f", {counts.skipped_failed} that failed before (--retry-failed to try them again)"
            if counts.skipped_failed
            else ""
        )
        print(f"skipping {counts.skipped_done} files already tagged{failed} (store: {store.path})", file=sys.stderr)


def _say_done(counts: RunCounts, total: int, interrupted: bool) -> None:
    lines = [f"error: {counts.stopped}"] if counts.stopped else []
    lines += [
        ("stopped: " if interrupted else "")
        + f"tagged {counts.tagged} files ({counts.audio_seconds / 60:.1f} min of audio) this run, "
        + f"{counts.skipped_done} already done, {counts.failed + counts.skipped_failed} failed, of {total}"
    ]
    if interrupted or counts.stopped:
        lines.append("every finished file is in the store; run the same command again to go on")
    if counts.written or counts.write_failed or counts.kept_genre:
        lines.append(
            f"wrote tags into {counts.written} files"
            + (f", {len(counts.kept_genre)} kept their own genre (--force replaces it)" if counts.kept_genre else "")
            + (f", {counts.write_failed} could not be written" if counts.write_failed else "")
        )
    print("\n".join(lines), file=sys.stderr)
