"""Network streams (Icecast/Shoutcast over HTTP(S), and HLS): decoded by FFmpeg through
PyAV, reconnected by themselves, their gaps counted, their now-playing title read.

A radio stream is never "done": a dropped connection, a stalled server (no byte for
``stall_seconds``, ``STALL_SECONDS`` by default: the socket's read timeout on the ICY
path, FFmpeg's read timeout through PyAV's ``timeout`` on HLS, where a playlist that
stops gaining segments stalls too) or a restarted encoder all end one connection, and
the source opens the next one after a backoff (``BACKOFF_SECONDS``, doubling to
``BACKOFF_MAX_SECONDS``; reset once audio flows again). Every way a connection fails
(``CONNECTION_FAILURES``: refused, reset, a chunked response cut mid-chunk, TLS, an HTTP
error status, a broken playlist, FFmpeg giving up) ends that connection only. The audio
a break cost is a *gap*: counted (``gaps``, ``gap_seconds``) and reported to the engine
as dropped frames, so it is shown, never silent; gap_ledger.py says how it is measured
so that delivered audio plus gaps never exceeds the wall time.

Credentials in the URL (``http://user:pass@host/``) are sent as HTTP basic
authentication, and the URL is only ever shown redacted (``name``, logs; redaction.py).

Icecast/Shoutcast send the station's title inside the byte stream (ICY metadata,
every ``icy-metaint`` bytes) when asked with ``Icy-MetaData: 1``. FFmpeg reads it only
once, at open, so plain HTTP streams are read here: the metadata blocks are cut out
(``title`` follows them) and the audio bytes go to FFmpeg through a file object. HLS
playlists (``.m3u8``) need FFmpeg's own HTTP client, and carry no ICY title. The
container format is taken from the response's Content-Type where it names one, so FFmpeg
starts decoding after a few KB instead of probing seconds of a mid-stream join.
"""

from __future__ import annotations

import base64
import http.client
import io
import logging
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing
from http.client import HTTPResponse
from urllib.parse import unquote, urlsplit, urlunsplit

import av

from genrescope.stream.sources.audio_file import BLOCK_SECONDS, _blocks
from genrescope.stream.sources.chunk import STALL_SECONDS, AudioChunk
from genrescope.stream.sources.gap_ledger import GapLedger
from genrescope.stream.sources.redaction import redact
from genrescope.stream.sources.spec import is_network_url

log = logging.getLogger(__name__)

BACKOFF_SECONDS = 0.5  # first wait before reconnecting...
BACKOFF_MAX_SECONDS = 15.0  # ...doubling up to this
USER_AGENT = "genrescope (+https://github.com/genrescope)"
STREAM_TITLE = re.compile(rb"StreamTitle='(.*?)';", re.S)
# Everything that ends one connection and not the stream: sockets, TLS and urllib's
# errors (HTTP statuses included) are OSErrors; http.client's own (a chunk cut mid-way is
# IncompleteRead, a bad status line BadStatusLine) are not; FFmpeg's come as FFmpegError.
CONNECTION_FAILURES = (OSError, EOFError, http.client.HTTPException, av.FFmpegError, ValueError)
# Content-Type → FFmpeg demuxer: no probing of a mid-stream join (which took seconds)
FORMATS = {
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/aac": "aac",
    "audio/aacp": "aac",
    "audio/x-aac": "aac",
    "audio/ogg": "ogg",
    "application/ogg": "ogg",
    "audio/flac": "flac",
}
KNOWN_FORMAT_PROBE = {"probesize": "8192", "analyzeduration": "0"}  # a named format needs only its first frames


class IcyReader(io.RawIOBase):
    """The audio bytes of an ICY stream, with its metadata blocks cut out; each title
    found goes to ``on_title``."""

    def __init__(self, response: HTTPResponse, metaint: int, on_title: Callable[[str], None]):
        self._response = response
        self._metaint = metaint  # audio bytes between metadata blocks; 0 = none
        self._until_meta = metaint
        self._on_title = on_title

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:
        if self._metaint and self._until_meta == 0:
            self._read_metadata()
        want = len(buffer) if not self._metaint else min(len(buffer), self._until_meta)
        data = self._response.read1(want) if want else b""
        buffer[: len(data)] = data
        if self._metaint:
            self._until_meta -= len(data)
        return len(data)

    def _read_metadata(self) -> None:
        length = self._exactly(1)[0] * 16
        block = self._exactly(length) if length else b""
        self._until_meta = self._metaint
        found = STREAM_TITLE.search(block)
        if found:
            self._on_title(found.group(1).decode("utf-8", errors="replace").strip())

    def _exactly(self, count: int) -> bytes:
        data = self._response.read(count)
        if len(data) < count:
            raise EOFError("the stream ended inside an ICY metadata block")
        return data


class NetworkSource:
    """Endless blocks of a network stream; reconnects with backoff until ``close()``.

    ``state`` is ``connecting``, ``live`` or ``reconnecting``; ``on_state`` (optional)
    hears every change, from the reading thread. ``stall_seconds`` without a byte (or,
    on HLS, without a new packet) ends a connection that is still open.
    """

    def __init__(
        self,
        url: str,
        block_seconds: float = BLOCK_SECONDS,
        on_state: Callable[[NetworkSource], None] | None = None,
        stall_seconds: float = STALL_SECONDS,
    ):
        if not is_network_url(url):
            raise ValueError(f"not an http(s) URL: {redact(url)}")
        if stall_seconds <= 0:
            raise ValueError(f"stall_seconds must be positive, got {stall_seconds}")
        self.url = url
        self.block_seconds = block_seconds
        self.stall_seconds = stall_seconds
        self.on_state = on_state
        self.state = "connecting"
        self.title: str | None = None
        self.gaps = 0  # connection breaks after audio had flowed
        self._ledger = GapLedger(block_seconds)
        self._closed = threading.Event()

    @property
    def name(self) -> str:
        """The URL as shown anywhere: without its credentials."""
        return redact(self.url)

    @property
    def gap_seconds(self) -> float:
        return self._ledger.gap_seconds

    def close(self) -> None:
        """Stop reconnecting; the iterator ends at its next break."""
        self._closed.set()

    def __iter__(self) -> Iterator[AudioChunk]:
        backoff = BACKOFF_SECONDS
        flowed = False  # audio came since the source started: a break is then a gap
        while not self._closed.is_set():
            asked, last_wait = time.monotonic(), 0.0  # when the next block was asked for; the last one's wait
            try:
                for chunk in self._connection():
                    now = time.monotonic()
                    last_wait = now - asked
                    chunk = self._settle_gap(chunk, last_wait, now)
                    self._set_state("live")
                    backoff, flowed = BACKOFF_SECONDS, True
                    yield chunk
                    if self._closed.is_set():
                        return
                    asked = time.monotonic()
                # FFmpeg's HLS reader ends a stalled playlist (its read timeout fired while it
                # waited for a segment) as if it had ended, after the part block it had: a
                # stall is told apart by the wait.
                stalled = max(last_wait, time.monotonic() - asked) >= self.stall_seconds
                log.warning(
                    "%s: %s; reconnecting",
                    self.name,
                    f"no data for {self.stall_seconds:g} s (stalled)" if stalled else "the stream ended",
                )
            except TimeoutError:  # the socket's read timeout (ICY), re-raised through FFmpeg
                log.warning(
                    "%s: no data for %g s (stalled); reconnecting in %.1f s", self.name, self.stall_seconds, backoff
                )
            except CONNECTION_FAILURES as error:
                log.warning("%s: %s; reconnecting in %.1f s", self.name, redact(_describe(error)), backoff)
            if flowed:
                self._ledger.break_off()
            self._set_state("reconnecting" if flowed else "connecting")
            if self._closed.wait(backoff):
                return
            backoff = min(2 * backoff, BACKOFF_MAX_SECONDS)

    def _settle_gap(self, chunk: AudioChunk, waited: float, now: float) -> AudioChunk:
        """The block, carrying as dropped frames the gap it settles (see GapLedger)."""
        gap = self._ledger.block(chunk.seconds, waited, now)
        if gap is None:
            return chunk
        self.gaps += 1
        missed = round(gap * chunk.sample_rate)
        return AudioChunk(chunk.samples, chunk.sample_rate, chunk.dropped_frames + missed)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            if self.on_state is not None:
                self.on_state(self)

    def _connection(self) -> Iterator[AudioChunk]:
        """The blocks of one connection, until it breaks."""
        if urlsplit(self.url).path.lower().endswith(".m3u8"):
            # FFmpeg's HTTP client sends the URL's user-info as basic authentication itself
            with av.open(self.url, timeout=self.stall_seconds) as container:
                self.title = container.metadata.get("StreamTitle") or self.title
                yield from _audio_blocks(container, self.block_seconds)
            return
        with closing(urllib.request.urlopen(_request(self.url), timeout=self.stall_seconds)) as response:
            metaint = int(response.headers.get("icy-metaint") or 0)
            audio_format = FORMATS.get(response.headers.get_content_type())
            reader = IcyReader(response, metaint, self._set_title)  # unbuffered: FFmpeg gets bytes as they come
            with av.open(
                reader, mode="r", format=audio_format, options=KNOWN_FORMAT_PROBE if audio_format else {}
            ) as container:
                yield from _audio_blocks(container, self.block_seconds)

    def _set_title(self, title: str) -> None:
        if title and title != self.title:
            self.title = title
            if self.on_state is not None:
                self.on_state(self)


def _audio_blocks(container: av.container.InputContainer, block_seconds: float) -> Iterator[AudioChunk]:
    if not container.streams.audio:
        raise ValueError("the stream has no audio")
    yield from _blocks(container, block_seconds)


def _request(url: str) -> urllib.request.Request:
    """The request for an ICY stream: the URL's user-info (which urllib would take for part
    of the host name) moves into an HTTP basic ``Authorization`` header."""
    parts = urlsplit(url)
    headers = {"Icy-MetaData": "1", "User-Agent": USER_AGENT}
    if parts.username is not None:
        secret = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(secret).decode("ascii")
        parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
    return urllib.request.Request(urlunsplit(parts), headers=headers)


def _describe(error: BaseException) -> str:
    """One line for a connection failure (some, such as RemoteDisconnected, may have no text)."""
    return str(error) or type(error).__name__
