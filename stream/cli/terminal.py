"""A live, readable terminal view of the genre probabilities (rich)."""

from __future__ import annotations

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from genrescope.stream.engine.events import GenreUpdate

BAR_WIDTH = 40


def render(update: GenreUpdate, source: str) -> Group:
    """Sorted bars with the top genre highlighted, and a status line."""
    table = Table.grid(padding=(0, 1))
    for rank, (label, p) in enumerate(update.ranked()):
        style = "bold green" if rank == 0 else ""
        bar = "█" * round(p * BAR_WIDTH)
        table.add_row(
            Text(f"{label:>13}", style=style), Text(f"{p:6.1%}", style=style), Text(bar, style=style or "cyan")
        )
    s = update.stats
    status = Text(
        f"{source} · t={update.time:7.1f} s · context {update.context_seconds:4.1f} s · "
        f"{s.compute_ms:5.2f} ms/update (p99 {s.compute_ms_p99:.2f}) · {s.provider} · dropped {s.dropped_frames}",
        style="dim",
    )
    key = f"   key {update.key.name} (fit {update.key.confidence:.2f})" if update.key and update.key.key else ""
    top = f"unsure ({update.top}?)" if update.uncertain else update.top
    return Group(Text(f"now: {top}{key}", style="bold"), table, status)


class TerminalView:
    """Context manager that redraws at most ``refresh_per_second`` times."""

    def __init__(self, source: str, console: Console | None = None, refresh_per_second: float = 8):
        self.source = source
        self.live = Live(
            Text("waiting for the first second of audio…"),
            console=console or Console(stderr=True),
            refresh_per_second=refresh_per_second,
            transient=False,
        )

    def __enter__(self) -> TerminalView:
        self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.live.__exit__(*exc)

    def show(self, update: GenreUpdate) -> None:
        """Hand over the newest update; it is rendered only when the screen is redrawn
        (a file at full speed makes hundreds of updates per redraw)."""
        self.live.update(_Pending(update, self.source))


class _Pending:
    """An update rendered on demand by rich."""

    def __init__(self, update: GenreUpdate, source: str):
        self.update, self.source = update, source

    def __rich__(self) -> Group:
        return render(self.update, self.source)
