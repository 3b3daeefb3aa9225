"""OSC output for lighting and VJ software (``--osc HOST:PORT``, UDP, python-osc).

Per stream NAME, on every update (≈4.3 per second, never more often):

* ``/genrescope/NAME/genre/GENRE`` → float, the smoothed probability (one address per
  genre, so a fader or a DMX channel maps to one genre without parsing);
* ``/genrescope/NAME/state`` → string, when the state changes (live, silence,
  reconnecting, ...);
* ``/genrescope/NAME/top`` → string genre, float probability: only once a new top genre
  has held for ``TOP_HOLD_SECONDS`` of stream time, so lights do not flicker between two
  close genres.
"""

from __future__ import annotations

from dataclasses import dataclass

from pythonosc.udp_client import SimpleUDPClient

from genrescope.stream.engine.multi import Event, StreamStatus, StreamUpdate

TOP_HOLD_SECONDS = 3.0
PREFIX = "/genrescope"


def parse_osc_target(text: str) -> tuple[str, int]:
    """``HOST:PORT`` → (host, port); ValueError with a sentence otherwise."""
    host, colon, port = text.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--osc {text!r}: expected HOST:PORT, e.g. 127.0.0.1:9000")
    return host.strip("[]"), int(port)


@dataclass
class _TopGenre:
    sent: str | None = None  # the top genre last announced
    candidate: str | None = None
    since: float = 0.0  # stream time the candidate became top


class OscOutput:
    """A sink of the scheduler's events that sends them as OSC messages."""

    def __init__(self, host: str, port: int, hold_seconds: float = TOP_HOLD_SECONDS):
        self.client = SimpleUDPClient(host, port)
        self.hold_seconds = hold_seconds
        self._tops: dict[str, _TopGenre] = {}

    def sink(self, event: Event) -> None:
        if isinstance(event, StreamUpdate):
            base = f"{PREFIX}/{event.stream}"
            update = event.update
            for genre, p in zip(update.labels, update.probabilities, strict=True):
                self.client.send_message(f"{base}/genre/{genre}", float(p))
            top = self._held_top(event.stream, update.top, update.time)
            if top is not None:
                self.client.send_message(f"{base}/top", [top, float(update.probabilities[update.labels.index(top)])])
        elif isinstance(event, StreamStatus):
            self.client.send_message(f"{PREFIX}/{event.stream}/state", event.state)

    def _held_top(self, stream: str, top: str, time: float) -> str | None:
        """The top genre to announce now, if it changed and has held long enough."""
        state = self._tops.setdefault(stream, _TopGenre())
        if top != state.candidate:
            state.candidate, state.since = top, time
        if state.candidate != state.sent and time - state.since >= self.hold_seconds:
            state.sent = state.candidate
            return state.sent
        return None
