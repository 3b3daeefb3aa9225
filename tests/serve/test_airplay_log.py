"""``genrescope serve --log DB``: the airplay log of a real server, killed and restarted."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from pathlib import Path

from websockets.asyncio.client import connect

from genrescope.model.frontend.spec import FrontendSpec
from genrescope.stream.segments.airplay_log import CHECKPOINT_SECONDS, AirplayLog, LoggedSegment
from harness import PATIENCE_SECONDS, genrescope, receive_until_end
from support import REPO, cli_command

RUN_SECONDS = 15.0  # of stream b before the kill: three checkpoints


def _logged(db: Path) -> list[LoggedSegment]:
    with AirplayLog(db, create=False) as log:
        return log.segments()


async def _until_frozen(url: str, process) -> float:
    """Follow stream b until RUN_SECONDS, freeze the server (SIGSTOP) and read everything
    it sent: the time of the last update it made (as far as a client can know)."""
    async with connect(f"{url}?stream=b") as client:
        last = 0.0
        while last < RUN_SECONDS:
            last = max([last, *[update["time"] for update in _updates(await client.recv())]])
        process.send_signal(signal.SIGSTOP)
        try:
            while True:
                message = await asyncio.wait_for(client.recv(), 1.0)
                last = max([last, *[u["time"] for u in _updates(message)]])
        except (TimeoutError, asyncio.TimeoutError):
            pass
        return last


async def _follow(url: str, seconds: float) -> None:
    """Follow stream b until its updates reach ``seconds`` of stream time."""
    async with connect(f"{url}?stream=b") as client:
        last = 0.0
        while last < seconds:
            last = max([last, *[update["time"] for update in _updates(await client.recv())]])


def _updates(text: str) -> list[dict]:
    """The updates of a message (an update, or a history of them)."""
    message = json.loads(text)
    return message.get("updates", [message] if message.get("type") == "update" else [])


def test_a_killed_server_keeps_every_finished_segment_and_the_last_checkpoint(
    test_model_path: Path, music_file: Path, short_music_file: Path, tmp_path: Path
) -> None:
    db = tmp_path / "airplay.sqlite"
    command = (
        "serve",
        "--source",
        f"a={short_music_file}",
        "--source",
        f"b=loop:{music_file}",
        "--model",
        str(test_model_path),
        "--log",
        str(db),
    )

    async def first_run(url: str, process) -> float:
        async with connect(f"{url}?stream=a") as client:
            await receive_until_end(client)  # a (5 s) ended: its segments are finished
        return await _until_frozen(url, process)

    with genrescope(*command) as server:
        last_update = asyncio.run(first_run(server.ws_url, server.process))
        before = _logged(db)  # what the frozen server had committed
        server.process.send_signal(signal.SIGKILL)
        assert server.process.wait(60) == -signal.SIGKILL

    finished = [row for row in before if row.ended_by is not None]
    assert {row.stream for row in finished} == {"a"} and finished[-1].ended_by == "stop"
    (running,) = [row for row in before if row.ended_by is None]
    assert running.stream == "b"
    origin = min(row.start_time for row in before if row.stream == "b")  # b's audio time 0
    update_seconds = FrontendSpec().column_seconds
    # at most one checkpoint interval of the running segment is lost
    assert running.end_time >= origin + last_update - CHECKPOINT_SECONDS - update_seconds

    with genrescope(*command) as server:  # serving: the checkpoint was closed before
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(60) == 0
    after = _logged(db)
    kept = {row for row in after if row.start_time < running.end_time}
    assert kept == {*finished, LoggedSegment(**{**running.__dict__, "ended_by": "restart"})}
    assert all(row.ended_by is not None for row in after)  # a clean stop leaves no checkpoint


def test_a_second_server_on_a_held_log_is_refused_and_changes_nothing(
    test_model_path: Path, music_file: Path, tmp_path: Path
) -> None:
    """Two servers on one log would each close the other's running segments as a killed
    run's ("restart") and write over its checkpoints: the log is held by one server."""
    db = tmp_path / "airplay.sqlite"
    first = ("serve", "--source", f"b=loop:{music_file}", "--model", str(test_model_path), "--log", str(db))
    with genrescope(*first) as server:
        asyncio.run(_follow(server.ws_url, 2 * CHECKPOINT_SECONDS))  # b has a checkpoint in the log
        second = subprocess.Popen(
            cli_command(*first, "--port", "0"), cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            out, err = second.communicate(timeout=PATIENCE_SECONDS)
        finally:
            second.kill()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(60) == 0
    assert second.returncode == 2 and out == "", err
    assert err.count("\n") == 1 and f"{db} is in use by another `genrescope serve`" in err, err
    logged = _logged(db)
    assert logged and all(row.ended_by in ("genre", "stop") for row in logged)  # none closed as a killed run's
