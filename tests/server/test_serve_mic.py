"""``genrescope serve --source mic`` through a real PulseAudio daemon: updates, clean stop."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path


from harness import first_updates, genrescope
from pulse import PulseServer
from support import write_tone


def test_microphone_stream_is_served_and_released_on_sigterm(
    pulse: PulseServer, test_model_path: Path, tmp_path: Path
) -> None:
    player = pulse.play(write_tone(tmp_path / "tone.wav", 20.0, frequency=440.0))
    try:
        with genrescope("serve", "--source", "mic", "--model", str(test_model_path)) as server:
            messages = asyncio.run(first_updates(server.ws_url, 3))
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
