"""``genrescope serve --source mic`` through a real PulseAudio daemon: updates, clean stop."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from websockets.asyncio.client import connect

from harness import genrescope, receive
from pulse import PulseServer
from support import write_tone


def test_microphone_stream_is_served_and_released_on_sigterm(
    pulse: PulseServer, test_model_path: Path, tmp_path: Path
) -> None:
    async def first_updates(url: str) -> list[dict]:
        async with connect(url) as client:
            messages = [await receive(client)]
            while sum(m["type"] == "update" for m in messages) < 3:
                messages.append(await receive(client))
            return messages

    player = pulse.play(write_tone(tmp_path / "tone.wav", 20.0, frequency=440.0))
    try:
        with genrescope("serve", "--source", "mic", "--model", str(test_model_path)) as server:
            messages = asyncio.run(asyncio.wait_for(first_updates(server.ws_url), 60))
            server.process.send_signal(signal.SIGTERM)
            status = server.process.wait(60)
            stderr = server.process.stderr.read()
    finally:
        player.terminate()
    assert messages[0]["type"] == "hello" and messages[0]["labels"]
    updates = [m for m in messages if m["type"] == "update"]
    assert [u["column"] for u in updates] == sorted(u["column"] for u in updates)
    assert status == 0 and "Traceback" not in stderr
    assert "server stopped" in stderr
