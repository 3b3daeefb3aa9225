"""Network streams (Icecast/Shoutcast over HTTP(S), and HLS): decoded by FFmpeg through
PyAV, reconnected by themselves, their gaps counted, their now-playing title read.

A radio stream is never "done": a dropped connection, a stalled server (no byte for
``stall_seconds``, ``STALL_SECONDS`` by default: the socket's read timeout on the ICY
path, FFmpeg's read timeout through PyAV's ``timeout`` on HLS, where a playlist that
stops gaining segments stalls too) or a restarted encoder all end one connection, and
the source opens the next one after a backoff (``BACKOFF_SECONDS``, doubling to
``BACKOFF_MAX_SECONDS``; reset once audio flows again). The wall time between the last
block before a break and the first after it is a *gap*: it is counted (``gaps``) and
reported to the engine as dropped frames, so it is shown, never silent.

Icecast/Shoutcast send the station's title inside the byte stream (ICY metadata,
every ``icy-metaint`` bytes) when asked with ``Icy-MetaData: 1``. FFmpeg reads it only
once, at open, so plain HTTP streams are read here: the metadata blocks are cut out
(``title`` follows them) and the audio bytes go to FFmpeg through a file object. HLS
playlists (``.m3u8``) need FFmpeg's own HTTP client, and carry no ICY title.
"""

from __future__ import annotations

import io
import logging
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.client import HTTPResponse
from urllib.parse import urlsplit

import av

from genrescope.stream.sources.audio_file import BLOCK_SECONDS, _blocks
from genrescope.stream.sources.chunk import STALL_SECONDS, AudioChunk

log = logging.getLogger(__name__)

BACKOFF_SECONDS = 0.5  # first wait before reconnecting...
BACKOFF_MAX_SECONDS = 15.0  # ...doubling up to this
USER_AGENT = "genrescope (+https://github.com/genrescope)"
STREAM_TITLE = re.compile(rb"StreamTitle='(.*?)';", re.S)


def is_network_url(spec: str) -> bool:
    return spec.startswith(("http://", "https://"))


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
        buffer[:len(data)] = data
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

    def __init__(self, url: str, block_seconds: float = BLOCK_SECONDS,
                 on_state: Callable[[NetworkSource], None] | None = None, stall_seconds: float = STALL_SECONDS):
        if not is_network_url(url):
            raise ValueError(f"not an http(s) URL: {url}")
        if stall_seconds <= 0:
            raise ValueError(f"stall_seconds must be positive, got {stall_seconds}")
        self.url = url
        self.block_seconds = block_seconds
        self.stall_seconds = stall_seconds
        self.on_state = on_state
        self.state = "connecting"
        self.title: str | None = None
        self.gaps = 0  # connection breaks after audio had flowed
        self.gap_seconds = 0.0
        self._closed = threading.Event()

    @property
    def name(self) -> str:
        return self.url

    def close(self) -> None:
        """Stop reconnecting; the iterator ends at its next break."""
        self._closed.set()

    def __iter__(self) -> Iterator[AudioChunk]:
        backoff = BACKOFF_SECONDS
        last_audio: float | None = None  # monotonic time the last block's audio came in
        while not self._closed.is_set():
            asked, last_wait = time.monotonic(), 0.0  # when the next block was asked for; the last one's wait
            try:
                for chunk in self._connection():
                    last_wait = time.monotonic() - asked
                    if last_audio is not None and self.state != "live":
                        chunk = self._after_gap(chunk, time.monotonic() - last_audio)
                    self._set_state("live")
                    backoff = BACKOFF_SECONDS
                    # its audio came in within a block's time of asking, even the part block a
                    # stalled HLS read ends with (delivered only once the stall was given up on)
                    last_audio = min(time.monotonic(), asked + self.block_seconds)
                    yield chunk
                    if self._closed.is_set():
                        return
                    asked = time.monotonic()
                # FFmpeg's HLS reader ends a stalled playlist (its read timeout fired while it
                # waited for a segment) as if it had ended, after the part block it had: a
                # stall is told apart by the wait.
                stalled = max(last_wait, time.monotonic() - asked) >= self.stall_seconds
                log.warning("%s: %s; reconnecting", self.url,
                            f"no data for {self.stall_seconds:g} s (stalled)" if stalled else "the stream ended")
            except TimeoutError:  # the socket's read timeout (ICY), re-raised through FFmpeg
                log.warning("%s: no data for %g s (stalled); reconnecting in %.1f s", self.url, self.stall_seconds,
                            backoff)
            except (OSError, EOFError, av.FFmpegError, ValueError) as error:
                log.warning("%s: %s; reconnecting in %.1f s", self.url, error, backoff)
            self._set_state("reconnecting" if last_audio is not None else "connecting")
            if self._closed.wait(backoff):
                return
            backoff = min(2 * backoff, BACKOFF_MAX_SECONDS)

    def _after_gap(self, chunk: AudioChunk, seconds: float) -> AudioChunk:
        """The first block after a break, carrying the missed audio as dropped frames."""
        self.gaps += 1
        self.gap_seconds += seconds
        missed = int(seconds * chunk.sample_rate)
        return AudioChunk(chunk.samples, chunk.sample_rate, chunk.dropped_frames + missed)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            if self.on_state is not None:
                self.on_state(self)

    def _connection(self) -> Iterator[AudioChunk]:
        """The blocks of one connection, until it breaks."""
        if urlsplit(self.url).path.lower().endswith(".m3u8"):
            container = av.open(self.url, timeout=self.stall_seconds)
            self.title = container.metadata.get("StreamTitle") or self.title
        else:
            request = urllib.request.Request(self.url, headers={"Icy-MetaData": "1", "User-Agent": USER_AGENT})
            response = urllib.request.urlopen(request, timeout=self.stall_seconds)
            metaint = int(response.headers.get("icy-metaint") or 0)
            reader = io.BufferedReader(IcyReader(response, metaint, self._set_title), 64 * 1024)
            container = av.open(reader, mode="r")
        with container:
            if not container.streams.audio:
                raise ValueError("the stream has no audio")
            yield from _blocks(container, self.block_seconds)

    def _set_title(self, title: str) -> None:
        if title and title != self.title:
            self.title = title
            if self.on_state is not None:
                self.on_state(self)
