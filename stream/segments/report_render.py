"""The airplay report drawn: genre share per hour as stacked bars (PNG, or SVG inside a
self-contained HTML page with the totals and the segments as tables).

Colours are the dashboard's (stream.palette, by the model's label order, which the log
keeps); the unsure part of a genre's share is hatched and paler, so a reader sees how much
of an hour the engine was only guessing.
"""

from __future__ import annotations

import html
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from genrescope.stream.outputs import save_figure
from genrescope.stream.palette import genre_colours
from genrescope.stream.segments.airplay_log import LoggedSegment
from genrescope.stream.segments.report import HourShare, clock, duration

BAR_DAYS = 1 / 24 * 0.9  # an hour's bar, in matplotlib's date units, with a gap
UNSURE_ALPHA = 0.45


def save_hours(rows: list[HourShare], labels: list[str], path: Path) -> None:
    """The hours plot as an image file (the format its name says), replaced whole."""
    figure = hours_figure(rows, labels)
    try:
        save_figure(figure, path)
    finally:
        plt.close(figure)


def hours_figure(rows: list[HourShare], labels: list[str]) -> Figure:
    """One panel per stream: for each hour, the genres' shares stacked to 1."""
    streams = sorted({row.stream for row in rows})
    genres = labels + sorted({row.genre for row in rows} - set(labels))
    colours = genre_colours(tuple(genres))
    figure, axes = plt.subplots(
        len(streams), 1, figsize=(11, 1.2 + 2.4 * len(streams)), dpi=110, squeeze=False, sharex=True
    )
    for axis, stream in zip(axes[:, 0], streams, strict=True):
        own = [row for row in rows if row.stream == stream]
        _draw_stream(axis, own, genres, colours)
        axis.set_title(f"{stream}: {_mostly(own)}", loc="left", fontsize=11, fontweight="bold")
    hours = len({row.hour for row in rows})
    step = next(step for limit, step in ((12, 1), (48, 3), (168, 12), (float("inf"), 24)) if hours <= limit)
    axes[-1, 0].xaxis.set_major_locator(mdates.HourLocator(byhour=range(0, 24, step)))
    axes[-1, 0].xaxis.set_major_formatter(mdates.DateFormatter("%d %b %H:%M"))
    figure.autofmt_xdate()
    present = [genre for genre in genres if any(row.genre == genre for row in rows)]
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[genre]) for genre in present]
    handles.append(plt.Rectangle((0, 0), 1, 1, facecolor="#999", alpha=UNSURE_ALPHA, hatch="//"))
    figure.legend(handles, [*present, "unsure"], loc="center right", frameon=False, title="genre")
    figure.suptitle("genre share per hour", x=0.01, ha="left", fontsize=12)
    figure.tight_layout(rect=(0, 0, 0.86, 1))
    return figure


def _mostly(rows: list[HourShare]) -> str:
    """``mostly Rock (67%)``: the genre with the most seconds over the period."""
    seconds: dict[str, float] = {}
    for row in rows:
        seconds[row.genre] = seconds.get(row.genre, 0.0) + row.seconds
    genre = max(seconds, key=seconds.get)
    return f"mostly {genre} ({seconds[genre] / sum(seconds.values()):.0%} of {duration(sum(seconds.values()))})"


def _draw_stream(axis: plt.Axes, rows: list[HourShare], genres: list[str], colours: dict[str, str]) -> None:
    bottoms: dict[object, float] = {}
    for genre in genres:  # the model's order, the same stacking in every hour
        for row in (row for row in rows if row.genre == genre):
            x = mdates.date2num(row.hour)
            bottom = bottoms.get(row.hour, 0.0)
            sure = row.share * (1 - row.unsure_seconds / row.seconds)
            axis.bar(x, sure, BAR_DAYS, bottom=bottom, color=colours[genre], align="edge")
            axis.bar(
                x,
                row.share - sure,
                BAR_DAYS,
                bottom=bottom + sure,
                color=colours[genre],
                alpha=UNSURE_ALPHA,
                hatch="//",
                align="edge",
                linewidth=0,
            )
            bottoms[row.hour] = bottom + row.share
    axis.set_ylim(0, 1)
    axis.set_ylabel("share of the hour")
    axis.grid(axis="y", alpha=0.3)


def html_page(
    rows: list[HourShare],
    totals: dict[str, dict[str, float]],
    segments: list[LoggedSegment],
    labels: list[str],
    title: str,
) -> str:
    """One self-contained page: the plot as inline SVG (no script, no remote file), then
    the totals and every segment as tables."""
    svg, drawn = io.StringIO(), hours_figure(rows, labels)
    try:
        drawn.savefig(svg, format="svg")
    finally:
        plt.close(drawn)
    figure = svg.getvalue()
    figure = figure[figure.index("<svg") :]  # the XML prolog and doctype do not belong inside HTML
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>
body {{ font: 15px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 1100px; color: #222; }}
svg {{ width: 100%; height: auto; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
th, td {{ padding: 0.2em 0.8em; text-align: left; border-bottom: 1px solid #ddd; }}
td.number {{ text-align: right; font-variant-numeric: tabular-nums; }}
</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<figure id="hours">{figure}</figure>
<h2>Totals</h2>
{_totals_table(totals)}
<h2>Segments</h2>
{_segments_table(segments)}
</body>
</html>
"""


def _totals_table(totals: dict[str, dict[str, float]]) -> str:
    rows = []
    for stream, genres in totals.items():
        whole = sum(genres.values())
        rows += [
            f"<tr><td>{html.escape(stream)}</td><td>{html.escape(genre)}</td>"
            f"<td class=number>{duration(seconds)}</td><td class=number>{seconds / whole:.0%}</td></tr>"
            for genre, seconds in genres.items()
        ]
    return (
        "<table id=totals><tr><th>stream</th><th>genre</th><th>time</th><th>share</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _segments_table(segments: list[LoggedSegment]) -> str:
    rows = [
        f"<tr><td>{html.escape(s.stream)}</td><td>{clock(s.start_time)}</td><td>{clock(s.end_time)}</td>"
        f"<td class=number>{duration(s.seconds)}</td><td>{html.escape(s.genre)}{' (unsure)' if s.unsure else ''}"
        f"</td><td class=number>{s.mean_probability:.0%}</td><td>{s.ended_by or 'still running'}</td></tr>"
        for s in segments
    ]
    return (
        "<table id=segments><tr><th>stream</th><th>from</th><th>to</th><th>length</th><th>genre</th>"
        "<th>mean p</th><th>ended by</th></tr>" + "".join(rows) + "</table>"
    )
