"""``genrescope report DB``: an airplay log as a plot, a page or a table, for a period."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from genrescope.stream.checks import output_file
from genrescope.stream.outputs import write_text_whole
from genrescope.stream.segments.airplay_log import AirplayLog, AirplayLogError
from genrescope.stream.segments.report import hourly_shares, parse_since, totals, write_csv

FORMATS = (".png", ".html", ".csv")
DESCRIPTION = """\
Report what an airplay log (`genrescope serve --log DB`) recorded: each stream's genre
share per hour, the totals, and the segments. The output's extension picks the form:
.png the plot, .html a self-contained page (the plot, the totals and every segment as
tables; no network needed to open it), .csv one row per stream-hour-genre (stream, hour
in local time with its UTC offset, genre, seconds, unsure_seconds, share). A segment
still running (the server is up) counts up to its last checkpoint."""
EXAMPLES = """\
examples:
  genrescope report airplay.sqlite --out today.html --since 24h
  genrescope report airplay.sqlite --stream radio1 --since 7d --out week.png
  genrescope report airplay.sqlite --out hours.csv
"""


class ReportError(AirplayLogError):
    """A report the log cannot give as asked (nothing logged, an unknown stream): one line."""


def add_report_command(commands: argparse._SubParsersAction) -> None:
    """``genrescope report``, added to the command line's subcommands."""
    parser = commands.add_parser(
        "report",
        help="an airplay log (serve --log) as a plot, a page or a table",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=run_report)
    parser.add_argument("db", type=Path, metavar="DB", help="the airplay log (serve --log DB)")
    parser.add_argument(
        "--out", type=_report_file, required=True, metavar="FILE", help="FILE.png, FILE.html or FILE.csv"
    )
    parser.add_argument(
        "--since",
        type=_since,
        default=None,
        metavar="AGO",
        help="only the last 90m, 24h, 7d, 2w... (default: everything logged)",
    )
    parser.add_argument("--stream", default=None, metavar="NAME", help="only this stream (default: every one)")


def run_report(args: argparse.Namespace) -> int:
    since = time.time() - args.since if args.since is not None else None
    with AirplayLog(args.db, create=False) as log:
        segments = log.segments(since, args.stream)
        labels = log.labels()
        streams = log.streams()
    if args.stream is not None and args.stream not in streams:
        raise ReportError(f"no stream {args.stream!r} in {args.db} (it has: {', '.join(streams) or 'none'})")
    if not segments:
        period = f" in the last {args.since / 3600:g} h" if since is not None else ""
        raise ReportError(f"nothing logged in {args.db}{period}" + (f" for {args.stream}" if args.stream else ""))
    rows = hourly_shares(segments, since)
    suffix = args.out.suffix.lower()
    try:
        if suffix == ".csv":
            write_csv(rows, args.out)
        elif suffix == ".png":
            from genrescope.stream.segments.report_render import save_hours

            save_hours(rows, labels, args.out)
        else:
            from genrescope.stream.segments.report_render import html_page

            title = f"airplay: {args.stream or ', '.join(sorted({s.stream for s in segments}))}"
            write_text_whole(args.out, html_page(rows, totals(segments, since), segments, labels, title))
    except OSError as error:
        raise ReportError(f"cannot write {args.out}: {error.strerror or error}") from error
    print(
        f"report: {len(segments)} segments of {len({s.stream for s in segments})} stream(s) → {args.out}",
        file=sys.stderr,
    )
    return 0


def _report_file(text: str) -> Path:
    if Path(text).suffix.lower() not in FORMATS:
        raise argparse.ArgumentTypeError(f"cannot report to {text}: give a .png, .html or .csv file")
    return output_file(text)


def _since(text: str) -> float:
    try:
        return parse_since(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix(f"--since {text!r}: ")) from error
