"""``genrescope serve --source mic`` through a real PulseAudio daemon: updates, clean stop;
and a named microphone among other streams that loses its device and gets it back."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from harness import PATIENCE_SECONDS, first_updates, genrescope, receive
from pulse import PulseServer
from support import write_tone


@pytest.mark.parametrize("spec", ["mic", "mic:pulse"])  # mic:DEVICE once ended in a traceback (no `path`)
def test_microphone_stream_is_served_and_released_on_sigterm(
    pulse: PulseServer, test_model_path: Path, tmp_path: Path, spec: str
) -> None:
    player = pulse.play(write_tone(tmp_path / "tone.wav", 20.0, frequency=440.0))
    try:
        with genrescope("serve", "--source", spec, "--model", str(test_model_path)) as server:
            messages = asyncio.run(first_updates(server.ws_url, 3))
            server.process.send_signal(signal.SIGTERM)
            status = server.process.wait(60)
            stderr = server.process.stderr.read()
    finally:
        player.terminate()
    assert messages[0]["type"] == "hello" and messages[0]["labels"] and messages[0]["source"].startswith("microphone")
    updates = [m for m in messages if m["type"] == "update"]
    assert [u["column"] for u in updates] == sorted(u["column"] for u in updates)
    assert status == 0 and "Traceback" not in stderr
    assert "server stopped" in stderr


def test_a_named_microphone_waits_for_its_device_while_the_other_streams_go_on(
    doomed_pulse: PulseServer, test_model_path: Path, music_file: Path
) -> None:
    """`serve --source room=mic:pulse --source jingles=loop:FILE`: the room's device
    vanishes (the daemon's only sink unloaded) and comes back; the jingles never stop,
    the room says it is reconnecting, resumes by itself and counts the gap."""

    async def scenario(url: str) -> list[dict]:
        seen: list[dict] = []
        async with connect(url, max_size=None) as client:
            assert (await receive(client))["type"] == "streams"
            await _until(client, seen, lambda: min(len(_updates(seen, "room")), len(_updates(seen, "jingles"))) >= 2)
            doomed_pulse.unload_sink()  # unplugged
            await _until(client, seen, lambda: ("room", "reconnecting") in _states(seen))
            going_on = len(_updates(seen, "jingles")) + 8
            await _until(client, seen, lambda: len(_updates(seen, "jingles")) >= going_on)  # 2 s without the room
            assert all(update["gaps"] == 0 for update in _updates(seen, "room"))  # still away
            doomed_pulse.load_sink()  # plugged back in
            await _until(client, seen, lambda: any(update["gaps"] == 1 for update in _updates(seen, "room")))
            resumed = len(_updates(seen, "room")) + 4
            await _until(client, seen, lambda: len(_updates(seen, "room")) >= resumed)
        return seen

    with genrescope(
        "serve", "--source", "room=mic:pulse", "--source", f"jingles=loop:{music_file}", "--model", str(test_model_path)
    ) as server:
        seen = asyncio.run(scenario(server.ws_url))
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(60) == 0
        stderr = server.process.stderr.read()
    assert "is back after" in stderr and "Traceback" not in stderr, stderr
    assert not any(message["type"] == "lag" for message in seen)
    for name in ("room", "jingles"):
        columns = [update["column"] for update in _updates(seen, name)]
        assert columns == list(range(columns[0], columns[0] + len(columns))), f"{name}: {columns}"
    room = _updates(seen, "room")
    back = next(update for update in room if update["gaps"] == 1)
    assert back["stats"]["dropped_samples"] > 0  # the time away, counted as lost audio
    assert all(update["gaps"] == 1 for update in room[room.index(back) :])
    assert all(update["gaps"] == 0 for update in _updates(seen, "jingles"))
    room_states = [state for name, state in _states(seen) if name == "room"]
    assert room_states[room_states.index("reconnecting") + 1] in ("live", "silence")  # back (the sink plays nothing)


async def _until(client, seen: list[dict], done: Callable[[], bool]) -> None:
    """Every message into ``seen`` (a history's updates one by one) until ``done()``
    (within a long while: a scenario that never comes fails, not hangs)."""
    async with asyncio.timeout(2 * PATIENCE_SECONDS):
        while not done():
            message = await receive(client)
            seen += message["updates"] if message["type"] == "history" else [message]


def _updates(seen: list[dict], stream: str) -> list[dict]:
    return [m for m in seen if m["type"] == "update" and m["stream"] == stream]


def _states(seen: list[dict]) -> list[tuple[str, str]]:
    return [(m["stream"], m["state"]) for m in seen if m["type"] == "status"]
