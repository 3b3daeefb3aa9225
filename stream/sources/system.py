"""The ``system`` source: what this computer is playing, recorded from its default output.

* Linux with PulseAudio or PipeWire (its pulse server): every sink has a ``.monitor``
  source carrying what the sink plays. The default sink comes from ``pactl``; PortAudio's
  ALSA ``pulse`` device records it, with ``PULSE_SOURCE`` naming the monitor while the
  stream opens (libpulse takes its default source from it). Found again at every
  (re)open, so after a lost stream it follows the output the user switched to.
* Windows: WASAPI loopback. PortAudio builds with loopback support (PortAudio after
  19.7, pull request 672) list every output device again as an input named
  ``"<output> [Loopback]"`` under the Windows WASAPI host API; the one of the default
  output is opened like a microphone. (sounddevice 0.5's ``WasapiSettings`` has no
  loopback switch; its bundled PortAudio decides.) This path is not tested here: no
  Windows machine.
* Anywhere else (macOS has no loopback of its own), or without those pieces: a one-line
  ``CaptureError`` saying what to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from genrescope.stream.sources.capture import CaptureError, MicrophoneSource, list_input_devices

SYSTEM = "system"
LABEL = "system audio"
PULSE_DEVICE = "pulse"  # ALSA's pulse plugin, as PortAudio lists it
LOOPBACK_SUFFIX = " [Loopback]"
WASAPI = "Windows WASAPI"
NOT_HERE = {
    "darwin": "macOS cannot record its own output: install a loopback device such as BlackHole "
    "(brew install blackhole-2ch), send the output to it, then use --device BlackHole",
}
NO_PULSE = (
    "recording what this computer plays needs PulseAudio or PipeWire's pulse server, with pactl "
    "(Debian/Ubuntu: apt install pulseaudio-utils, or pipewire-pulse) and ALSA's pulse plugin "
    "(libasound2-plugins)"
)


def open_system_audio(_device: object = None, preferred_rate: int | None = None) -> MicrophoneSource:
    """The default output's monitor (or loopback) as an input; ``_device`` is ignored (the
    signature of a ``ReconnectingMicrophone`` factory)."""
    if sys.platform == "win32":
        return MicrophoneSource(_wasapi_loopback(), preferred_rate=preferred_rate, label=LABEL)
    monitor = default_monitor()
    if PULSE_DEVICE not in {device.name for device in list_input_devices()}:
        raise CaptureError(f"PortAudio has no '{PULSE_DEVICE}' input to record {monitor} with: " + NO_PULSE)
    return MicrophoneSource(
        PULSE_DEVICE, preferred_rate=preferred_rate, environment={"PULSE_SOURCE": monitor}, label=f"{LABEL} ({monitor})"
    )


def default_monitor() -> str:
    """The monitor source of the default sink, from the audio server itself."""
    if shutil.which("pactl") is None:
        raise CaptureError(NOT_HERE.get(sys.platform, NO_PULSE))
    sink = _pactl("get-default-sink") or _default_sink_from_info()
    if not sink:
        raise CaptureError("the audio server has no default output (pactl names no default sink)")
    monitor = f"{sink}.monitor"
    sources = [line.split("\t")[1] for line in _pactl("list", "short", "sources").splitlines() if "\t" in line]
    if monitor not in sources:
        raise CaptureError(
            f"the default output {sink!r} has no monitor source to record (sources: {', '.join(sources) or 'none'})"
        )
    return monitor


def _default_sink_from_info() -> str:
    """``pactl info``'s "Default Sink" (pactl before 15 has no get-default-sink)."""
    for line in _pactl("info").splitlines():
        if line.startswith("Default Sink:"):
            return line.partition(":")[2].strip()
    return ""


def _pactl(*args: str) -> str:
    try:
        done = subprocess.run(
            ["pactl", *args], capture_output=True, text=True, timeout=10, env={**os.environ, "LC_ALL": "C"}
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise CaptureError(f"pactl failed: {error}") from error
    if done.returncode != 0 and args != ("get-default-sink",):
        raise CaptureError(f"no audio server answers pactl: {done.stderr.strip() or done.returncode}")
    return done.stdout.strip() if done.returncode == 0 else ""


def _wasapi_loopback() -> int:
    """The PortAudio index of the default output's WASAPI loopback input."""
    import sounddevice

    apis = sounddevice.query_hostapis()
    wasapi = next((api for api in apis if api["name"] == WASAPI), None)
    if wasapi is None or wasapi["default_output_device"] < 0:
        raise CaptureError(
            "no WASAPI output device to record: enable 'Stereo Mix' in the sound settings and use --device 'Stereo Mix'"
        )
    output = sounddevice.query_devices(wasapi["default_output_device"])["name"]
    for device in list_input_devices():
        if device.host_api == WASAPI and device.name == output + LOOPBACK_SUFFIX:
            return device.index
    raise CaptureError(
        f"this PortAudio lists no loopback of {output!r}: it needs a build with WASAPI loopback "
        "(PortAudio newer than 19.7); or enable 'Stereo Mix' and use --device 'Stereo Mix'"
    )
