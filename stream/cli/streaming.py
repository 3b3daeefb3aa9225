"""The commands that run a stream: ``file``, ``live``, ``serve`` and ``devices``.

Each handler takes the parsed arguments (see commands.build_parser) and returns the exit
status; the engine loads only here, when a command runs.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO, TYPE_CHECKING

from genrescope.stream.checks import open_jsonl
from genrescope.stream.cover.cover_link import CoverLink, link_cover
from genrescope.stream.engine.config import EngineConfig
from genrescope.stream.engine.events import PROTOCOL_VERSION, GenreUpdate
from genrescope.stream.engine.timeline import Timeline
from genrescope.stream.segments.airplay import AirplayRecorder, open_recorder
from genrescope.stream.segments.live import feed_server
from genrescope.stream.segments.recording import SegmentRecorder
from genrescope.stream.serve.server import ServerConfig, run_server
from genrescope.stream.sources.chunk import STALL_SECONDS, AudioChunk
from genrescope.stream.sources.factory import held, open_source
from genrescope.stream.sources.spec import SourceSpec, parse_source_spec, refuse_inapplicable, with_device

if TYPE_CHECKING:  # the engine (torch) loads only for the commands that run it
    from genrescope.stream.cli.terminal import TerminalView
    from genrescope.stream.engine.engine import GenreEngine

log = logging.getLogger("genrescope")


class UserError(Exception):
    """A problem with the user's input, reported as one line."""


def _server_config(args: argparse.Namespace) -> ServerConfig:
    try:
        return ServerConfig(
            host=args.host,
            port=args.port,
            allow_remote=args.allow_remote,
            token=args.token,
            allowed_origins=tuple(args.allow_origin),
            exit_at_end=args.exit_at_end,
        )
    except ValueError as error:
        raise UserError(str(error)) from error


def engine_config(args: argparse.Namespace) -> EngineConfig:
    """The engine settings the engine flags give (every command that streams)."""
    return EngineConfig(
        smoothing_seconds=args.smoothing, context_seconds=args.context, frontend_device="cpu" if args.cpu else "auto"
    )


def make_engine(args: argparse.Namespace) -> GenreEngine:
    """The engine for a command, with the engine flags applied (see load_engine)."""
    from genrescope.stream.engine.engine import load_engine

    engine = load_engine(args.model, engine_config(args), prefer_gpu=not args.cpu)
    log.info("model %s (%s), provider %s", engine.model.path, engine.model_version, engine.provider)
    return engine


def stream_updates(
    engine: GenreEngine,
    source: Iterable[AudioChunk],
    source_name: str,
    args: argparse.Namespace,
    cover: CoverLink | None = None,
) -> int:
    """Run a source to its end (or Ctrl-C) with the requested outputs; print the summary.

    With ``--serve`` the server runs the stream in its engine thread and keeps serving
    after the end until Ctrl-C or SIGTERM (or ``--exit-at-end``), the normal way out.
    """
    from genrescope.stream.cli.terminal import TerminalView

    server_config = _server_config(args) if args.serve else None
    timeline = Timeline() if args.plot else None  # fixed memory, however long the stream
    newest: deque[GenreUpdate] = deque(maxlen=1)  # for the final line; nothing else is kept
    interrupted, engine_error = False, None
    recorder = SegmentRecorder(engine.labels, engine.spec.column_seconds) if getattr(args, "segments", None) else None
    with ExitStack() as stack:
        jsonl = open_jsonl(args.jsonl, stack)
        view = None
        if not args.quiet and sys.stderr.isatty():
            view = stack.enter_context(TerminalView(source_name))
        updates = _engine_updates(engine, source, cover)
        outputs = _with_outputs(recorder.watch(updates) if recorder else updates, newest, timeline, jsonl, view)
        try:
            if server_config is not None:
                engine_error = serve_stream(engine, outputs, source_name, server_config, cover)
            else:
                for _ in outputs:
                    pass
        except KeyboardInterrupt:
            interrupted = True
    _print_summary(engine, newest[0] if newest else None, interrupted)
    if timeline is not None and len(timeline):
        _plot(timeline, args.plot, source_name)
    if recorder is not None:
        recorder.write(args.segments, str(args.path), engine.model_version, engine.audio_seconds)
    return 130 if interrupted else exit_status(engine_error)


def _with_outputs(
    updates: Iterable[GenreUpdate],
    newest: deque[GenreUpdate],
    timeline: Timeline | None,
    jsonl: IO[str] | None,
    view: TerminalView | None,
) -> Iterator[GenreUpdate]:
    """Each update, once it went to the requested outputs (and into ``newest``)."""
    for update in updates:
        newest.append(update)
        if timeline is not None:
            timeline.add(update)
        if jsonl is not None:
            jsonl.write(json.dumps(update.to_message()) + "\n")
        if view is not None:
            view.show(update)
        yield update


def _engine_updates(
    engine: GenreEngine, source: Iterable[AudioChunk], cover: CoverLink | None
) -> Iterator[GenreUpdate]:
    """The engine's updates, each with the fused estimate when the source has a cover."""
    return cover.attach(engine.run(source)) if cover else engine.run(source)


def serve_stream(
    engine: GenreEngine,
    updates: Iterator[GenreUpdate],
    source_name: str,
    config: ServerConfig,
    cover: CoverLink | None = None,
    recorder: AirplayRecorder | None = None,
) -> str | None:
    """Serve ``updates`` (the engine's; ``recorder`` watching them feeds the segment band)
    until stopped; returns the engine's error, if one stopped it (see ``exit_status``)."""
    return run_server(
        engine.hello(source_name, cover.hello_extra() if cover else None),
        updates,
        engine.summary,
        config,
        feed_server(recorder, PROTOCOL_VERSION, tag_stream=False) if recorder else None,
    )


def exit_status(engine_error: str | None) -> int:
    """1 when the engine stopped on an error, said in one line after the summary: the server
    kept serving its last state, so without this a script would see a clean exit."""
    if engine_error is None:
        return 0
    print(f"genrescope: error: the stream stopped on an error: {engine_error}", file=sys.stderr)
    return 1


def _plot(timeline: Timeline, path: Path, source_name: str) -> None:
    """Draw the timeline; a failure (the disk filled meanwhile) is one line after the summary."""
    from genrescope.stream.cli.plot import plot_timeline

    try:
        plot_timeline(timeline, path, source_name)
    except OSError as error:
        raise UserError(f"cannot write the plot {path}: {error.strerror or error}") from error


def _print_summary(engine: GenreEngine, last: GenreUpdate | None, interrupted: bool) -> None:
    print(("stopped. " if interrupted else "") + engine.summary().text(), file=sys.stderr)
    if last is not None:
        print("final: " + ", ".join(f"{g} {p:.0%}" for g, p in last.ranked()[:3]), file=sys.stderr)
    else:
        print("no update: the audio was shorter than the first second", file=sys.stderr)


def run_file(args: argparse.Namespace) -> int:
    paced = args.realtime or args.serve  # a served file plays at 1× for its watchers
    source = open_source(SourceSpec("file", str(args.path)), realtime=paced)
    cover = link_cover(source.path) if args.serve else None  # once, before the stream
    return stream_updates(make_engine(args), source, source.name, args, cover)


def run_live(args: argparse.Namespace) -> int:
    engine = make_engine(args)
    # waits for a lost device to come back; records at the model's rate where it can
    spec = SourceSpec("mic", args.device or "")  # --device system: what this computer plays
    with open_source(spec, sample_rate=engine.spec.sample_rate) as microphone:
        source = _limit(microphone, args.seconds)
        return stream_updates(engine, source, microphone.name, args)


def _limit(source: Iterable[AudioChunk], seconds: float | None) -> Iterable[AudioChunk]:
    if seconds is None:
        yield from source
        return
    heard = 0.0
    for chunk in source:
        yield chunk
        heard += chunk.seconds
        if heard >= seconds:
            return


def run_serve(args: argparse.Namespace) -> int:
    from genrescope.stream.serve.serve_many import serves_many

    config = _server_config(args)
    if serves_many(args.source, args.sources, args.osc):
        return _serve_named(args, config)
    spec = parse_source_spec(args.source[0] if args.source else "demo")
    refuse_inapplicable([spec], args.device, args.stall_seconds, args.exit_at_end)
    engine = make_engine(args)
    with ExitStack() as stack:
        recorder = stack.enter_context(open_recorder(args.log, engine.labels, engine.spec.column_seconds))
        source = open_source(
            with_device(spec, args.device),
            realtime=True,
            sample_rate=engine.spec.sample_rate,
            stall_seconds=args.stall_seconds or STALL_SECONDS,
        )
        stack.enter_context(held(source))  # a device is released on the way out
        cover = link_cover(source.path) if spec.kind == "file" else None  # once, never on the real-time path
        updates = recorder.watch(source.name, _engine_updates(engine, source, cover))
        error = serve_stream(engine, updates, source.name, config, cover, recorder)
    print(engine.summary().text(), file=sys.stderr)
    return exit_status(error)


def _serve_named(args: argparse.Namespace, config: ServerConfig) -> int:
    from genrescope.stream.serve.serve_many import named_sources, serve_many

    sources = named_sources(args.source, args.sources, args.device)
    refuse_inapplicable([source.source for source in sources], args.device, args.stall_seconds, args.exit_at_end)
    return exit_status(
        serve_many(
            sources,
            engine_config(args),
            config,
            args.model,
            not args.cpu,
            args.osc,
            args.stall_seconds or STALL_SECONDS,
            args.log,
        )
    )


def run_devices(args: argparse.Namespace) -> int:
    from genrescope.stream.sources.capture import format_devices, list_input_devices

    print(format_devices(list_input_devices()))
    return 0
