"""``genrescope``: the command line. Every subcommand is a thin layer over a library call.

Errors a user can cause (a bad file, no device, a model without metadata) print one
line and exit 2; Ctrl-C ends a stream cleanly with its summary.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import deque
from contextlib import ExitStack
from pathlib import Path
from typing import IO, TYPE_CHECKING, Iterable, Iterator

from genrescope.stream.cli.checks import (PORT, SECONDS, CliParser, Number, OutputError, image_file, open_jsonl,
                                      output_file, quiet_broken_pipe)
from genrescope.stream.cover.cover_link import CoverLink, link_cover
from genrescope.stream.cli.cover import add_cover_arguments, run_cover
from genrescope.stream.engine.config import EngineConfig
from genrescope.stream.engine.events import GenreUpdate
from genrescope.stream.serve.server import ServerConfig, ServerError, run_server
from genrescope.stream.cli.tag import add_tag_arguments, run_tag
from genrescope.stream.sources.redaction import RedactingFormatter, redact
from genrescope.stream.sources.chunk import STALL_SECONDS, AudioChunk
from genrescope.stream.sources.factory import held, open_source
from genrescope.stream.sources.spec import (SourceSpec, file_argument, parse_source_spec, refuse_inapplicable,
                                           with_device)
from genrescope.stream.engine.timeline import Timeline
from genrescope.training.commands import add_commands as add_training_commands

if TYPE_CHECKING:  # the engine (torch) loads only for the commands that run it
    from genrescope.stream.engine.engine import GenreEngine
    from genrescope.stream.cli.terminal import TerminalView

log = logging.getLogger("genrescope")

EXAMPLES = """\
examples:
  genrescope file song.mp3                  stream a file as fast as possible, live view in the terminal
  genrescope file song.flac --realtime      pace it like a live source
  genrescope file song.mp3 --jsonl out.jsonl --plot timeline.png
  genrescope tag ~/Music                    tag a whole library into a resumable store, all cores (--write, --export)
  genrescope live                           the default microphone / line-in
  genrescope devices                        list input devices
  genrescope serve --source demo            live web dashboard at http://127.0.0.1:8765/ (also: mic, a file)
  genrescope file song.mp3 --serve          the terminal view and the web dashboard, paced in real time
  genrescope serve --source r1=https://radio.example/live.mp3 --source hall=mic:USB
                                            several named streams on one page (also --sources, --osc, /metrics)
  genrescope cover album.jpg song.mp3 --json  genre from cover art (an image, or a song's embedded artwork)
  genrescope train --epochs 30              train the genre model on FMA-small (../shared/data)
  genrescope evaluate                       evaluate the shipped model on the official test split
"""


class UserError(Exception):
    """A problem with the user's input, reported as one line."""


def _engine_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = EngineConfig()
    group = parser.add_argument_group("engine")
    group.add_argument("--model", type=Path, default=None, help="ONNX genre model (default: the shipped one)")
    group.add_argument("--smoothing", type=Number(float, low=0), default=defaults.smoothing_seconds, metavar="SECONDS",
                       help=f"EMA time constant of the probabilities, 0 = off (default {defaults.smoothing_seconds})")
    group.add_argument("--context", type=Number(float, low=defaults.min_context_seconds),
                       default=defaults.context_seconds, metavar="SECONDS",
                       help=f"longest context the model sees, from {defaults.min_context_seconds:g} s (the first "
                            f"update's) to the model's maximum (default {defaults.context_seconds:g})")
    group.add_argument("--cpu", action="store_true", help="never use the GPU, even when there is one")


def _output_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output")
    group.add_argument("--jsonl", type=output_file, metavar="OUT",
                       help="write one JSON object per update ('-' for stdout)")
    group.add_argument("--plot", type=image_file, metavar="OUT.png",
                       help="draw the genre timeline of the stream (png, pdf, svg...)")
    group.add_argument("--quiet", action="store_true", help="no live terminal view")


def _server_arguments(parser: argparse.ArgumentParser, switch: bool) -> None:
    """Server options; ``switch`` adds ``--serve`` for commands that serve on request."""
    defaults = ServerConfig()
    group = parser.add_argument_group("web dashboard and websocket server (protocol: README.md)")
    if switch:
        group.add_argument("--serve", action="store_true",
                           help="also serve the updates and the live dashboard (files are paced in real time)")
    group.add_argument("--host", default=defaults.host,
                       help=f"interface to bind (default {defaults.host}; others need --allow-remote)")
    group.add_argument("--port", type=PORT, default=defaults.port,
                       help=f"HTTP and websocket port (default {defaults.port}, 0 = any free port)")
    group.add_argument("--allow-remote", action="store_true",
                       help="allow binding a non-loopback --host; clients then need the token")
    group.add_argument("--token", default=None,
                       help="token clients must send (default: none on loopback, generated otherwise)")
    group.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                       help="another web origin whose pages may connect (repeatable)")
    group.add_argument("--exit-at-end", action="store_true",
                       help="stop when a file ends (default: keep serving its final state)")


def _server_config(args: argparse.Namespace) -> ServerConfig:
    try:
        return ServerConfig(host=args.host, port=args.port, allow_remote=args.allow_remote, token=args.token,
                            allowed_origins=tuple(args.allow_origin), exit_at_end=args.exit_at_end)
    except ValueError as error:
        raise UserError(str(error)) from error


def build_parser() -> argparse.ArgumentParser:
    parser = CliParser(
        prog="genrescope",
        description="Real-time music-genre recognition: sound in, rolling genre probabilities out "
                    "(≈4 updates per second, over up to 30 s of context).",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more (model provider, timings)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    file_parser = commands.add_parser("file", help="stream an audio file (mp3, flac, ogg, wav, anything ffmpeg reads)",
                                      description="Stream an audio file through the real-time engine.")
    file_parser.add_argument("path", type=file_argument, help="the audio file")
    file_parser.add_argument("--realtime", action="store_true", help="pace the file at 1× like a live source")
    _engine_arguments(file_parser)
    _output_arguments(file_parser)
    _server_arguments(file_parser, switch=True)
    file_parser.set_defaults(handler=run_file)

    tag_parser = commands.add_parser(
        "tag", help="tag a library: one whole-file genre per file, into a resumable store, optionally into the files")
    add_tag_arguments(tag_parser)
    tag_parser.set_defaults(handler=run_tag)

    live_parser = commands.add_parser("live", help="listen to a microphone or line-in",
                                      description="Recognise the genre of what an input device hears. If the device goes "
                                                  "away (unplugged, audio server restarted), the stream waits for it "
                                                  "(or, with no --device, for the system default) to come back and "
                                                  "counts the gap as dropped samples.")
    live_parser.add_argument("--device", default=None, help="input device index or part of its name "
                                                            "(see `genrescope devices`)")
    live_parser.add_argument("--seconds", type=SECONDS, default=None, help="stop after this long (default: Ctrl-C)")
    _engine_arguments(live_parser)
    _output_arguments(live_parser)
    _server_arguments(live_parser, switch=True)
    live_parser.set_defaults(handler=run_live)

    devices_parser = commands.add_parser("devices", help="list audio input devices")
    devices_parser.set_defaults(handler=run_devices)

    serve_parser = commands.add_parser("serve", help="serve live updates and the web dashboard",
                                       description="Run the engine on a source and push every update over "
                                                   "websockets, with the live dashboard on the same port.")
    serve_parser.add_argument("--source", action="append", default=[], metavar="[NAME=]SPEC",
                              help="'demo' (a synthesised loop, the default), 'mic' or 'mic:DEVICE', an "
                                   "http(s):// radio stream (Icecast, Shoutcast, HLS; user:pass@ is sent as "
                                   "basic auth and never shown), 'loop:FILE' or an audio file, paced in real "
                                   "time (write ./mic for a file named mic). Repeat as NAME=SPEC to monitor "
                                   "several streams at once (see README: Many streams)")
    serve_parser.add_argument("--sources", type=Path, default=None, metavar="FILE.toml",
                              help="named streams from a TOML file ([[stream]] name = ..., source = ..., "
                                   "loop = true|false)")
    serve_parser.add_argument("--osc", default=None, metavar="HOST:PORT",
                              help="with named streams: send each update as OSC (UDP) to HOST:PORT")
    serve_parser.add_argument("--stall-seconds", type=SECONDS, default=None, metavar="SECONDS",
                              help="with radio streams: no data for this long counts as a stall; the stream "
                                   f"reconnects and counts the gap (default {STALL_SECONDS:g})")
    serve_parser.add_argument("--device", default=None,
                              help="input device of a mic source that names none (mic, NAME=mic); "
                                   "refused where no source is such a mic")
    _engine_arguments(serve_parser)
    _server_arguments(serve_parser, switch=False)
    serve_parser.set_defaults(handler=run_serve)

    cover_parser = commands.add_parser("cover", help="genre from album art: images, or songs' embedded artwork",
                                       description="Genre probabilities from cover art (images, or the artwork "
                                                   "embedded in mp3/m4a/flac/ogg files).")
    add_cover_arguments(cover_parser)
    cover_parser.set_defaults(handler=run_cover)

    add_training_commands(commands)
    return parser


def engine_config(args: argparse.Namespace) -> EngineConfig:
    """The engine settings the engine flags give (every command that streams)."""
    return EngineConfig(smoothing_seconds=args.smoothing, context_seconds=args.context,
                        frontend_device="cpu" if args.cpu else "auto")


def make_engine(args: argparse.Namespace) -> GenreEngine:
    """The engine for a command, with the engine flags applied (see load_engine)."""
    from genrescope.stream.engine.engine import load_engine

    engine = load_engine(args.model, engine_config(args), prefer_gpu=not args.cpu)
    log.info("model %s (%s), provider %s", engine.model.path, engine.model_version, engine.provider)
    return engine


def stream_updates(engine: GenreEngine, source: Iterable[AudioChunk], source_name: str,
                   args: argparse.Namespace, cover: CoverLink | None = None) -> int:
    """Run a source to its end (or Ctrl-C) with the requested outputs; print the summary.

    With ``--serve`` the server runs the stream in its engine thread and keeps serving
    after the end until Ctrl-C or SIGTERM (or ``--exit-at-end``), the normal way out.
    """
    from genrescope.stream.cli.terminal import TerminalView

    server_config = _server_config(args) if args.serve else None
    timeline = Timeline() if args.plot else None  # fixed memory, however long the stream
    newest: deque[GenreUpdate] = deque(maxlen=1)  # for the final line; nothing else is kept
    interrupted, engine_error = False, None
    with ExitStack() as stack:
        jsonl = open_jsonl(args.jsonl, stack)
        view = None
        if not args.quiet and sys.stderr.isatty():
            view = stack.enter_context(TerminalView(source_name))
        outputs = _with_outputs(_engine_updates(engine, source, cover), newest, timeline, jsonl, view)
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
    return 130 if interrupted else exit_status(engine_error)


def _with_outputs(updates: Iterable[GenreUpdate], newest: deque[GenreUpdate], timeline: Timeline | None,
                  jsonl: IO[str] | None, view: TerminalView | None) -> Iterator[GenreUpdate]:
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


def _engine_updates(engine: GenreEngine, source: Iterable[AudioChunk], cover: CoverLink | None
                    ) -> Iterator[GenreUpdate]:
    """The engine's updates, each with the fused estimate when the source has a cover."""
    return cover.attach(engine.run(source)) if cover else engine.run(source)


def serve_stream(engine: GenreEngine, updates: Iterator[GenreUpdate], source_name: str,
                 config: ServerConfig, cover: CoverLink | None = None) -> str | None:
    """Serve ``updates`` (the engine's) with the dashboard until stopped; see stream.server.
    Returns the engine's error, if one stopped it (the clients were told; see ``exit_status``)."""
    return run_server(engine.hello(source_name, cover.hello_extra() if cover else None), updates, engine.summary,
                      config)


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
    spec = SourceSpec("mic", args.device or "")
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
    config = _server_config(args)
    if _serves_many(args):
        return _serve_named(args, config)
    spec = parse_source_spec(args.source[0] if args.source else "demo")
    refuse_inapplicable([spec], args.device, args.stall_seconds, args.exit_at_end)
    engine = make_engine(args)
    source = open_source(with_device(spec, args.device), realtime=True, sample_rate=engine.spec.sample_rate,
                         stall_seconds=args.stall_seconds or STALL_SECONDS)
    with held(source):
        cover = link_cover(source.path) if spec.kind == "file" else None  # once, never on the real-time path
        error = serve_stream(engine, _engine_updates(engine, source, cover), source.name, config, cover)
    print(engine.summary().text(), file=sys.stderr)
    return exit_status(error)


def _serves_many(args: argparse.Namespace) -> bool:
    """Named streams (protocol v2) rather than today's single stream (v1)."""
    from genrescope.stream.sources.factory import NAME

    single = args.source[0] if len(args.source) == 1 else None
    named = single is not None and NAME.fullmatch(single.partition("=")[0]) and "=" in single \
        and not Path(single).exists()
    return len(args.source) > 1 or args.sources is not None or args.osc is not None or bool(named)


def _serve_named(args: argparse.Namespace, config: ServerConfig) -> int:
    from genrescope.stream.serve.serve_many import named_sources, serve_many

    sources = named_sources(args.source, args.sources, args.device)
    refuse_inapplicable([source.source for source in sources], args.device, args.stall_seconds, args.exit_at_end)
    return exit_status(serve_many(sources, engine_config(args), config, args.model, not args.cpu, args.osc,
                                  args.stall_seconds or STALL_SECONDS))


def run_devices(args: argparse.Namespace) -> int:
    from genrescope.stream.sources.capture import format_devices, list_input_devices

    print(format_devices(list_input_devices()))
    return 0


def user_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean bad input, not a bug: one line, exit 2."""
    from genrescope.model.genre.card import ModelCardError
    from genrescope.stream.sources.audio_file import AudioFileError
    from genrescope.stream.sources.capture import CaptureError
    from genrescope.stream.sources.factory import SourceSpecError
    from genrescope.stream.cli.tag import TagUsageError
    from genrescope.stream.tag.store import TagStoreError
    from genrescope.training.settings import ConfigError

    return (UserError, AudioFileError, ModelCardError, FileNotFoundError, ServerError, CaptureError,
            SourceSpecError, TagUsageError, TagStoreError, ConfigError, OutputError)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s"))  # no secret reaches the log
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, handlers=[handler])
    try:
        return args.handler(args)
    except user_errors() as error:
        print(f"genrescope: error: {redact(str(error))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # stdout's reader left (`| head`)
        return quiet_broken_pipe()


if __name__ == "__main__":
    sys.exit(main())
