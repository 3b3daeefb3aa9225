"""A real, private PulseAudio daemon for capture tests.

Capture is tested end to end through real parts: a tone file is played with ``paplay``
into a null sink, and ``MicrophoneSource`` records the sink's monitor through
sounddevice → PortAudio → ALSA's pulse plugin → this daemon.

What makes it work on a headless machine, as root:

* ``XDG_RUNTIME_DIR`` (and ``HOME``, for the daemon's cookie and state) point into a
  fresh temporary directory, so the daemon is private to the test session and never
  meets a desktop's own sound server; ``PULSE_SERVER`` names its socket explicitly for
  every client, including the ALSA plugin inside this process.
* ``pulseaudio -D --system=false`` runs as root (it warns, and works); ``-n`` skips
  default.pa, whose hardware detection has nothing to find here, and the command line
  loads exactly what is needed: the native protocol (anonymous, so clients need no
  cookie) and the null sink ``virt``, whose monitor is made the default source.
  module-suspend-on-idle is thus never loaded, so nothing is ever suspended.
* PortAudio lists devices once, when it initialises, and this process has usually
  initialised it before the daemon existed; so it is re-initialised afterwards, and
  then shows the ALSA devices ``pulse`` and ``default`` (routed to pulse by ALSA's
  pulse hook now that a daemon answers).

A device that vanishes is staged by killing a second such daemon under an open stream
(removing a source would not do while another exists: PulseAudio moves its streams to
it), and one that vanishes and comes back by unloading that daemon's only sink, whose
monitor is its only source, and loading it again.

If any of that cannot be had, capture tests skip with the reason — unless
``GENRESCOPE_REQUIRE_AUDIO=1`` (set by CI), where they fail instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

REQUIRE_AUDIO = "GENRESCOPE_REQUIRE_AUDIO"
SINK = "virt"
TOOLS = ("pulseaudio", "pactl", "paplay")


def unavailable(reason: str) -> None:
    """Skip the test — or fail it where real audio is required (CI)."""
    if os.environ.get(REQUIRE_AUDIO) == "1":
        pytest.fail(f"{reason} ({REQUIRE_AUDIO}=1, so this is a failure, not a skip)")
    pytest.skip(reason)


@dataclass
class PulseServer:
    """A running private daemon and the environment that reaches it."""

    runtime_dir: Path
    env: dict[str, str]

    def pactl(self, *args: str) -> str:
        result = subprocess.run(["pactl", *args], env=self.env, capture_output=True, text=True, check=True)
        return result.stdout.strip()

    def play(self, wav: Path) -> subprocess.Popen[bytes]:
        """Start playing ``wav`` into the null sink with a short buffer."""
        return subprocess.Popen(
            ["paplay", "--latency-msec=20", f"--device={SINK}", str(wav)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def unload_sink(self) -> None:
        """Take the null sink (and so the only source, its monitor) away, as an unplug would."""
        modules = self.pactl("list", "short", "modules").splitlines()
        index = next(line.split()[0] for line in modules if "module-null-sink" in line)
        self.pactl("unload-module", index)

    def load_sink(self) -> None:
        """Plug the null sink back in, its monitor the default source again."""
        self.pactl("load-module", "module-null-sink", f"sink_name={SINK}")
        self.pactl("set-default-source", f"{SINK}.monitor")

    def log_tail(self) -> str:
        log = self.runtime_dir / "pulse.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""

    def stop(self) -> None:
        """Stop this daemon (found by the pid file in its own runtime dir)."""
        subprocess.run(["pulseaudio", "--kill"], env=self.env, capture_output=True)


def start_pulse(runtime_dir: Path) -> PulseServer:
    """Start a private daemon with the null sink ``virt`` as default; skip/fail if not."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        unavailable(f"PulseAudio tools not installed: {', '.join(missing)}")
    socket = runtime_dir / "pulse" / "native"
    env = os.environ | {
        "XDG_RUNTIME_DIR": str(runtime_dir),
        "HOME": str(runtime_dir),
        "PULSE_SERVER": f"unix:{socket}",
    }
    server = PulseServer(runtime_dir, env)
    started = subprocess.run(
        [
            "pulseaudio",
            "--daemonize=yes",
            "--system=false",
            "--exit-idle-time=-1",
            "--disallow-exit=yes",
            "-n",
            "--load=module-native-protocol-unix auth-anonymous=1",
            f"--load=module-null-sink sink_name={SINK}",
            f"--log-target=file:{runtime_dir / 'pulse.log'}",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if started.returncode != 0:
        unavailable(f"pulseaudio would not start: {started.stderr.strip()} {server.log_tail()}")
    server.pactl("set-default-source", f"{SINK}.monitor")
    return server


@contextmanager
def serving_this_process(server: PulseServer) -> Iterator[None]:
    """Point this process's PulseAudio clients (the ALSA plugin under PortAudio) at
    ``server`` and make PortAudio list devices afresh; undo both on exit."""
    import sounddevice

    saved = {name: os.environ.get(name) for name in ("XDG_RUNTIME_DIR", "PULSE_SERVER")}
    os.environ["XDG_RUNTIME_DIR"] = server.env["XDG_RUNTIME_DIR"]
    os.environ["PULSE_SERVER"] = server.env["PULSE_SERVER"]
    rescan_portaudio(sounddevice)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        rescan_portaudio(sounddevice)


def rescan_portaudio(sounddevice: ModuleType) -> None:
    """Re-initialise PortAudio so it enumerates devices again (sounddevice has no
    public call for this; these two are what its maintainers point to)."""
    sounddevice._terminate()
    sounddevice._initialize()
