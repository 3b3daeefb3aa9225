"""``genrescope``: the command line. Every subcommand is a thin layer over a library call.

Errors a user can cause (a bad file, no device, a model without metadata) print one
line and exit 2; Ctrl-C ends a stream cleanly with its summary.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from genrescope.stream.checks import PORT, SECONDS, CliParser, Number, OutputError, image_file, output_file
from genrescope.stream.cli.command_groups import CommandListFormatter, group_commands
from genrescope.stream.cli.cover import add_cover_arguments, run_cover
from genrescope.stream.cli.streaming import UserError, run_devices, run_file, run_live, run_serve
from genrescope.stream.cli.tag import add_tag_arguments, run_tag
from genrescope.stream.engine.config import EngineConfig
from genrescope.stream.outputs import HeldElsewhereError, quiet_broken_pipe
from genrescope.stream.segments.airplay import add_log_argument
from genrescope.stream.segments.formats import FORMATS_HELP, segments_file
from genrescope.stream.segments.report_cli import add_report_command
from genrescope.stream.serve.server import ServerConfig, ServerError
from genrescope.stream.sources.chunk import STALL_SECONDS
from genrescope.stream.sources.redaction import RedactingFormatter, redact
from genrescope.stream.sources.spec import file_argument
from genrescope.stream.tag.stop_signals import stop_status
from genrescope.training.commands import add_commands as add_training_commands

log = logging.getLogger("genrescope")

EXAMPLES = """\
examples:
  genrescope file song.mp3                  stream a file as fast as possible, live view in the terminal
  genrescope file song.flac --realtime      pace it like a live source
  genrescope file song.mp3 --jsonl out.jsonl --plot timeline.png
  genrescope file mix.mp3 --segments mix.cue    its genre segments as a CUE sheet (also .json, .csv, .txt: Audacity)
  genrescope tag ~/Music                    tag a whole library into a resumable store, all cores (--write, --export)
  genrescope live                           the default microphone / line-in
  genrescope devices                        list input devices
  genrescope serve --source demo            live web dashboard at http://127.0.0.1:8765/ (also: mic, a file)
  genrescope file song.mp3 --serve          the terminal view and the web dashboard, paced in real time
  genrescope serve --source r1=https://radio.example/live.mp3 --source hall=mic:USB
                                            several named streams on one page (also --sources, --osc, /metrics)
  genrescope serve --source r1=URL --log airplay.sqlite   ...and log what genre played when (then: report)
  genrescope cover album.jpg song.mp3 --json  genre from cover art (an image, or a song's embedded artwork)
  genrescope train --epochs 30              train the genre model on FMA-small (../shared/data)
  genrescope evaluate                       evaluate the shipped model on the official test split
"""


def _engine_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = EngineConfig()
    group = parser.add_argument_group("engine")
    group.add_argument("--model", type=Path, default=None, help="ONNX genre model (default: the shipped one)")
    group.add_argument(
        "--smoothing",
        type=Number(float, low=0),
        default=defaults.smoothing_seconds,
        metavar="SECONDS",
        help=f"EMA time constant of the probabilities, 0 = off (default {defaults.smoothing_seconds})",
    )
    group.add_argument(
        "--context",
        type=Number(float, low=defaults.min_context_seconds),
        default=defaults.context_seconds,
        metavar="SECONDS",
        help=f"longest context the model sees, from {defaults.min_context_seconds:g} s (the first "
        f"update's) to the model's maximum (default {defaults.context_seconds:g})",
    )
    group.add_argument("--cpu", action="store_true", help="never use the GPU, even when there is one")


def _output_arguments(parser: argparse.ArgumentParser, segments: bool = False) -> None:
    group = parser.add_argument_group("output")
    if segments:
        group.add_argument(
            "--segments",
            type=segments_file,
            metavar="OUT",
            help=f"write the genre segments (from 0:00 to 3:10 it was Rock...) as {FORMATS_HELP}",
        )
    group.add_argument(
        "--jsonl", type=output_file, metavar="OUT", help="write one JSON object per update ('-' for stdout)"
    )
    group.add_argument(
        "--plot", type=image_file, metavar="OUT.png", help="draw the genre timeline of the stream (png, pdf, svg...)"
    )
    group.add_argument("--quiet", action="store_true", help="no live terminal view")


def _server_arguments(parser: argparse.ArgumentParser, switch: bool) -> None:
    """Server options; ``switch`` adds ``--serve`` for commands that serve on request."""
    defaults = ServerConfig()
    group = parser.add_argument_group("web dashboard and websocket server (protocol: docs/protocol.md)")
    if switch:
        group.add_argument(
            "--serve",
            action="store_true",
            help="also serve the updates and the live dashboard (files are paced in real time)",
        )
    group.add_argument(
        "--host", default=defaults.host, help=f"interface to bind (default {defaults.host}; others need --allow-remote)"
    )
    group.add_argument(
        "--port",
        type=PORT,
        default=defaults.port,
        help=f"HTTP and websocket port (default {defaults.port}, 0 = any free port)",
    )
    group.add_argument(
        "--allow-remote", action="store_true", help="allow binding a non-loopback --host; clients then need the token"
    )
    group.add_argument(
        "--token", default=None, help="token clients must send (default: none on loopback, generated otherwise)"
    )
    group.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="another web origin whose pages may connect (repeatable)",
    )
    group.add_argument(
        "--exit-at-end", action="store_true", help="stop when a file ends (default: keep serving its final state)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = CliParser(
        prog="genrescope",
        description="Real-time music-genre recognition: sound in, rolling genre probabilities out "
        "(≈4 updates per second, over up to 30 s of context).",
        epilog=EXAMPLES,
        formatter_class=CommandListFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more (model provider, timings)")
    commands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND", required=True)

    file_parser = commands.add_parser(
        "file",
        help="stream an audio file (mp3, flac, ogg, wav, anything ffmpeg reads)",
        description="Stream an audio file through the real-time engine.",
    )
    file_parser.add_argument("path", type=file_argument, help="the audio file")
    file_parser.add_argument("--realtime", action="store_true", help="pace the file at 1× like a live source")
    _engine_arguments(file_parser)
    _output_arguments(file_parser, segments=True)
    _server_arguments(file_parser, switch=True)
    file_parser.set_defaults(handler=run_file)

    tag_parser = commands.add_parser(
        "tag", help="tag a library: one whole-file genre per file, into a resumable store, optionally into the files"
    )
    add_tag_arguments(tag_parser)
    tag_parser.set_defaults(handler=run_tag)

    live_parser = commands.add_parser(
        "live",
        help="listen to a microphone or line-in",
        description="Recognise the genre of what an input device hears. If the device goes "
        "away (unplugged, audio server restarted), the stream waits for it "
        "(or, with no --device, for the system default) to come back and "
        "counts the gap as dropped samples.",
    )
    live_parser.add_argument(
        "--device",
        default=None,
        help="input device index or part of its name "
        "(see `genrescope devices`), or 'system': what "
        "this computer plays (the default output's monitor)",
    )
    live_parser.add_argument("--seconds", type=SECONDS, default=None, help="stop after this long (default: Ctrl-C)")
    _engine_arguments(live_parser)
    _output_arguments(live_parser)
    _server_arguments(live_parser, switch=True)
    live_parser.set_defaults(handler=run_live)

    devices_parser = commands.add_parser("devices", help="list audio input devices")
    devices_parser.set_defaults(handler=run_devices)

    serve_parser = commands.add_parser(
        "serve",
        help="serve live updates and the web dashboard",
        description="Run the engine on a source and push every update over "
        "websockets, with the live dashboard on the same port.",
    )
    serve_parser.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="[NAME=]SPEC",
        help="'demo' (a synthesised loop, the default), 'mic' or 'mic:DEVICE', 'system' "
        "(what this computer plays), an http(s):// radio stream (Icecast, Shoutcast, "
        "HLS; user:pass@ is sent as basic auth and never shown), 'loop:FILE' or an "
        "audio file, paced in real time (write ./mic for a file named mic). Repeat as "
        "NAME=SPEC to monitor several streams at once (docs/operations.md: Many streams)",
    )
    serve_parser.add_argument(
        "--sources",
        type=Path,
        default=None,
        metavar="FILE.toml",
        help="named streams from a TOML file ([[stream]] name = ..., source = ..., loop = true|false)",
    )
    serve_parser.add_argument(
        "--osc",
        default=None,
        metavar="HOST:PORT",
        help="with named streams: send each update as OSC (UDP) to HOST:PORT",
    )
    serve_parser.add_argument(
        "--stall-seconds",
        type=SECONDS,
        default=None,
        metavar="SECONDS",
        help="with radio streams: no data for this long counts as a stall; the stream "
        f"reconnects and counts the gap (default {STALL_SECONDS:g})",
    )
    serve_parser.add_argument(
        "--device",
        default=None,
        help="input device of a mic source that names none (mic, NAME=mic; 'system': what "
        "this computer plays); refused where no source is such a mic",
    )
    add_log_argument(serve_parser)
    _engine_arguments(serve_parser)
    _server_arguments(serve_parser, switch=False)
    serve_parser.set_defaults(handler=run_serve)

    add_report_command(commands)
    cover_parser = commands.add_parser(
        "cover",
        help="genre from album art: images, or songs' embedded artwork",
        description="Genre probabilities from cover art (images, or the artwork embedded in mp3/m4a/flac/ogg files).",
    )
    add_cover_arguments(cover_parser)
    cover_parser.set_defaults(handler=run_cover)

    users = len(commands.choices)
    add_training_commands(commands)
    group_commands(
        parser,
        commands,
        list(commands.choices)[users:],
        "research and training commands",
        "the model's own pipeline: training, cross-validation, export, evaluation and studies\n"
        "(they need the [train] extra, and the FMA data under ../shared/data)",
    )
    return parser


def user_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean bad input, not a bug: one line, exit 2."""
    from genrescope.model.genre.card import ModelCardError
    from genrescope.stream.cli.tag import TagUsageError
    from genrescope.stream.segments.airplay_log import AirplayLogError  # ReportError too
    from genrescope.stream.sources.audio_file import AudioFileError
    from genrescope.stream.sources.capture import CaptureError
    from genrescope.stream.sources.factory import SourceSpecError
    from genrescope.stream.tag.store import TagStoreError
    from genrescope.training.settings import ConfigError

    return (
        UserError,
        AudioFileError,
        ModelCardError,
        FileNotFoundError,
        ServerError,
        CaptureError,
        SourceSpecError,
        TagUsageError,
        TagStoreError,
        ConfigError,
        OutputError,
        AirplayLogError,
        HeldElsewhereError,
    )


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
    except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM where a command asked for it (stop_signals)
        print("interrupted", file=sys.stderr)
        return stop_status(stop)
    except BrokenPipeError:  # stdout's reader left (`| head`)
        return quiet_broken_pipe()


if __name__ == "__main__":
    sys.exit(main())
