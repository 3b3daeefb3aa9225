"""A radio station that misbehaves on purpose: real MP3 bytes over real sockets, each
connection failing in the way the test asks.

The station is *live*: it plays a constant-bitrate MP3 on a loop, paced by the wall
clock from the moment it starts, and a listener joins wherever it is now (no burst of
old audio). So a listener away for a while misses that much audio, as with a real radio,
and a source's delivered audio plus counted gaps can be compared with the wall time.

Each ICY connection takes the next ``Play`` (or ``Refuse``) from ``script``; once the
script is empty, connections play on. HLS (``/live.m3u8``) is a live playlist of 1 s MP3
AAC segments in MPEG-TS (cut by ffmpeg from the same audio, ``hls_segments``) on the
same clock; ``hls_script`` holds the playlist's answers, one per
playlist request: ``200`` (the playlist), ``"garbage"`` or another HTTP status. With ``tls=True`` every
connection is TLS (a self-signed certificate; ``certificate`` is the file a client must
trust), and a ``Play(then="bad-tls")`` answers the handshake with plain bytes instead.
"""

from __future__ import annotations

import base64
import http.server
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BITRATE = 128_000  # bits per second, constant: bytes pace audio exactly
BYTES_PER_SECOND = BITRATE // 8
SEND_SECONDS = 0.05  # audio per HTTP chunk
STALL_HOLD_SECONDS = 60.0  # a stalled connection stays open this long (or until the station stops)
SEGMENT_SECONDS = 1  # HLS segment length
PLAYLIST_SEGMENTS = 4
DOWN_SECONDS = 2.0  # how long a station that went down refuses connections


@dataclass(frozen=True)
class Play:
    """Serve ``seconds`` of live audio in chunked encoding, then ``then``: ``"end"`` (a
    clean end), ``"cut"`` (a chunk cut mid-way, then close), ``"reset"`` (TCP reset),
    ``"stall"`` (stay open, send nothing), ``"down"`` (the station's server goes away:
    connections are refused for ``DOWN_SECONDS``, then it listens again on its port),
    ``"bad-tls"`` (TLS stations only: plain bytes instead of a handshake; ``seconds`` is
    ignored). ``status`` other than 200 answers
    with that status and no audio."""

    seconds: float = float("inf")
    then: str = "end"
    status: int = 200


def _ffmpeg(source: str, *outputs: str) -> None:
    """FFmpeg from ``source`` to what ``outputs`` say, quietly, overwriting."""
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", source, *outputs], check=True)


def hls_segments(source: Path, folder: Path) -> list[bytes]:
    """``source`` as 1 s AAC segments in MPEG-TS, as an HLS encoder cuts them."""
    _ffmpeg(
        str(source),
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        "-f",
        "hls",
        "-hls_time",
        str(SEGMENT_SECONDS),
        "-hls_list_size",
        "0",
        "-hls_segment_filename",
        str(folder / "segment-%d.ts"),
        str(folder / "all.m3u8"),
    )
    return [path.read_bytes() for path in sorted(folder.glob("segment-*.ts"), key=lambda p: int(p.stem[8:]))]


def encode_mp3(source: Path, target: Path) -> Path:
    """``source`` as constant-bitrate MP3 at ``BITRATE``, 44.1 kHz stereo."""
    _ffmpeg(str(source), "-ar", "44100", "-ac", "2", "-c:a", "libmp3lame", "-b:a", str(BITRATE), str(target))
    return target


class RadioStation(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        mp3: Path,
        script: list[Play],
        hls_script: list[str | int],
        segments: list[bytes],
        tls: ssl.SSLContext | None,
        credentials: tuple[str, str] | None,
        port: int,
    ):
        super().__init__(("127.0.0.1", port), _Listener)
        self.audio = mp3.read_bytes()
        self.segments = segments
        self.script = deque(script)
        self.hls_script = deque(hls_script)
        self.tls = tls
        self.credentials = credentials
        self.started = time.monotonic() - PLAYLIST_SEGMENTS * SEGMENT_SECONDS  # a full playlist at once
        self.stopping = threading.Event()
        self.connections = 0  # audio requests answered (any outcome)
        self.lock = threading.Lock()

    def handle_error(self, request: object, client_address: object) -> None:
        """A listener that hung up, or a misbehaviour served on purpose: not the station's fault."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def go_down(self) -> None:
        """Stop listening (connections are refused) for ``DOWN_SECONDS``, then listen again."""
        self.shutdown()
        self.socket.close()
        time.sleep(DOWN_SECONDS)
        self.socket = socket.socket(self.address_family, self.socket_type)
        self.server_bind()
        self.server_activate()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def url(self, path: str = "live.mp3", userinfo: str = "", query: str = "") -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}/{path}{query}"

    def next_play(self) -> Play:
        with self.lock:
            self.connections += 1
            return self.script.popleft() if self.script else Play()

    def next_playlist_fault(self) -> str | int:
        with self.lock:
            return self.hls_script.popleft() if self.hls_script else 200

    def live_bytes(self, start: float, end: float) -> bytes:
        """The station's bytes between two moments of its clock (seconds since it started)."""
        return _loop_slice(self.audio, int(start * BYTES_PER_SECOND), int(end * BYTES_PER_SECOND))

    def clock(self) -> float:
        return time.monotonic() - self.started


def _loop_slice(data: bytes, first: int, last: int) -> bytes:
    """``data`` repeated forever, bytes ``first`` to ``last``."""
    size = len(data)
    pieces, offset = [], first
    while offset < last:
        start = offset % size
        take = min(last - offset, size - start)
        pieces.append(data[start : start + take])
        offset += take
    return b"".join(pieces)


class _Listener(http.server.BaseHTTPRequestHandler):
    server: RadioStation
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        self.play: Play | None = None
        if self.server.tls is not None:
            if self.server.script and self.server.script[0].then == "bad-tls":
                self.play = self.server.next_play()
                self.request.recv(4096)  # the client's hello, answered with nonsense
                self.request.sendall(b"HTTP/1.0 400 not TLS\r\n\r\n")
                self.request.close()
                raise ConnectionAbortedError("bad TLS served")
            self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        super().setup()

    def handle(self) -> None:
        if self.play is not None:
            return
        super().handle()

    def log_message(self, *args: object) -> None:  # the test's output stays readable
        pass

    def do_GET(self) -> None:
        if not self._authorised():
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="radio"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path = self.path.split("?")[0]
        if path.endswith(".m3u8"):
            self._playlist()
        elif path.startswith("/segment-"):
            number = int(path.removeprefix("/segment-").removesuffix(".ts"))
            self._send(self.server.segments[number % len(self.server.segments)], "video/mp2t")
        else:
            self._icy(self.server.next_play())

    def _authorised(self) -> bool:
        if self.server.credentials is None:
            return True
        expected = base64.b64encode(":".join(self.server.credentials).encode()).decode()
        return self.headers.get("Authorization") == f"Basic {expected}"

    def _icy(self, play: Play) -> None:
        if play.status != 200:
            self.send_error(play.status)
            return
        self.send_response(200)
        self.send_header("Content-Type", "audio/mpeg")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        joined = self.server.clock()
        sent = joined
        while sent - joined < play.seconds and not self.server.stopping.is_set():
            until = sent + SEND_SECONDS
            time.sleep(max(0.0, until - self.server.clock()))
            self._chunk(self.server.live_bytes(sent, until))
            sent = until
        self._end(play.then)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _end(self, how: str) -> None:
        if how == "cut":
            data = self.server.live_bytes(self.server.clock(), self.server.clock() + SEND_SECONDS)
            self.wfile.write(b"%x\r\n%s" % (len(data), data[: len(data) // 2]))  # promised, half delivered
        elif how == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()  # now, before the server's orderly shutdown could send a FIN
        elif how == "down":
            threading.Thread(target=self.server.go_down, daemon=True).start()
        elif how == "stall":
            self.server.stopping.wait(STALL_HOLD_SECONDS)
        else:
            self.wfile.write(b"0\r\n\r\n")
        self.close_connection = True

    def _playlist(self) -> None:
        fault = self.server.next_playlist_fault()
        if isinstance(fault, int) and fault != 200:
            self.send_error(fault)
            return
        if fault == "garbage":
            body = b"<html>this is not a playlist</html>\n"
        else:
            newest = int(self.server.clock() // SEGMENT_SECONDS)  # segments fully played so far
            first = max(0, newest - PLAYLIST_SEGMENTS)
            lines = [
                "#EXTM3U",
                "#EXT-X-VERSION:3",
                f"#EXT-X-TARGETDURATION:{SEGMENT_SECONDS}",
                f"#EXT-X-MEDIA-SEQUENCE:{first}",
            ]
            for number in range(first, newest):
                lines += [f"#EXTINF:{SEGMENT_SECONDS}.0,", f"segment-{number}.ts"]
            body = ("\n".join(lines) + "\n").encode()
        self._send(body, "application/vnd.apple.mpegurl")

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made by the openssl command."""
    certificate, key = folder / "station.pem", folder / "station.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(certificate),
        ],
        check=True,
        capture_output=True,
    )
    return certificate, key


@contextmanager
def radio_station(
    mp3: Path,
    script: list[Play] = (),
    hls_script: list[str | int] = (),
    segments: list[bytes] = (),
    certificate: tuple[Path, Path] | None = None,
    credentials: tuple[str, str] | None = None,
    port: int = 0,
) -> Iterator[RadioStation]:
    """A running station (see the module's docstring), stopped on the way out."""
    tls = None
    if certificate is not None:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(*certificate)
    station = RadioStation(mp3, list(script), list(hls_script), list(segments), tls, credentials, port)
    thread = threading.Thread(target=station.serve_forever, daemon=True)
    thread.start()
    try:
        yield station
    finally:
        station.stopping.set()
        station.shutdown()
        station.server_close()
