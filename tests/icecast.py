"""A real Icecast server for the network-stream tests, and a real ``ffmpeg -re`` feeder.

Debian's ``icecast2`` runs from a generated config on a free port, logging into a
temporary folder. Icecast refuses to run as root, so as root the config drops to the
package's ``icecast2`` user (``<changeowner>``); as anyone else it runs as that user.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ICECAST = shutil.which("icecast2") or "/usr/bin/icecast2"
SOURCE_PASSWORD = "genrescope-source"
PATIENCE_SECONDS = 30.0  # guards against a hang, never a measurement

CONFIG = """<icecast>
  <limits><clients>100</clients><sources>20</sources><source-timeout>10</source-timeout>
    <burst-on-connect>1</burst-on-connect></limits>
  <authentication><source-password>{password}</source-password>
    <admin-user>admin</admin-user><admin-password>{password}</admin-password></authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <fileserve>0</fileserve>
  <paths><logdir>{logdir}</logdir><webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot></paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>3</loglevel></logging>
  <security><chroot>0</chroot>{changeowner}</security>
</icecast>
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Icecast:
    port: int

    def url(self, mount: str) -> str:
        return f"http://127.0.0.1:{self.port}/{mount}"

    def source_url(self, mount: str) -> str:
        return f"icecast://source:{SOURCE_PASSWORD}@127.0.0.1:{self.port}/{mount}"

    def set_title(self, mount: str, title: str) -> None:
        """Set the mount's now-playing title the way a station's playout does (admin API)."""
        query = urllib.parse.urlencode({"mount": f"/{mount}", "mode": "updinfo", "song": title})
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/admin/metadata?{query}")
        token = base64.b64encode(f"admin:{SOURCE_PASSWORD}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()

    def wait_mounted(self, mount: str) -> None:
        """Until a listener can open ``mount`` (the feeder connected)."""
        deadline = time.monotonic() + PATIENCE_SECONDS
        while True:
            try:
                with urllib.request.urlopen(self.url(mount), timeout=2) as response:
                    if response.status == 200 and response.read(1024):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"icecast mount /{mount} never came up")
            time.sleep(0.2)


@contextmanager
def icecast_server() -> Iterator[Icecast]:
    """Icecast on a free loopback port until the block ends. Its folder is its own
    (pytest's tmp_path sits under a folder only root may enter)."""
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="genrescope-icecast-"))
    folder.chmod(0o755)
    logdir = folder / "log"
    logdir.mkdir()
    changeowner = ""
    if os.geteuid() == 0:
        changeowner = "<changeowner><user>icecast2</user><group>icecast</group></changeowner>"
        shutil.chown(logdir, "icecast2", "icecast")
    config = folder / "icecast.xml"
    config.write_text(CONFIG.format(password=SOURCE_PASSWORD, port=port, logdir=logdir, changeowner=changeowner))
    config.chmod(0o644)
    process = subprocess.Popen([ICECAST, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_listening(port, process)
        yield Icecast(port)
    finally:
        process.terminate()
        process.wait(PATIENCE_SECONDS)
        shutil.rmtree(folder, ignore_errors=True)


def _wait_listening(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + PATIENCE_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"icecast2 exited: {process.stderr.read().decode(errors='replace')}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError("icecast2 did not start listening")


def feeder(audio: Path, icecast: Icecast, mount: str) -> subprocess.Popen:
    """``ffmpeg -re`` playing ``audio`` (looped) to ``mount`` as MP3, as a station's encoder does."""
    return subprocess.Popen(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-re",
            "-stream_loop",
            "-1",
            "-i",
            str(audio),
            "-vn",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "128k",
            "-content_type",
            "audio/mpeg",
            "-f",
            "mp3",
            icecast.source_url(mount),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
