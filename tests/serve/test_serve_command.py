"""``genrescope serve`` and ``--serve`` as real processes: signals, the end, the tee."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedOK
from websockets.frames import CloseCode

from harness import first_updates, genrescope, receive, receive_until_end
from support import run_cli


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_closes_the_streams_and_exits_without_a_traceback(
    signum: signal.Signals, test_model_path: Path, music_file: Path
) -> None:
    async def scenario(url: str, stop) -> tuple[list[str], int | None]:
        async with connect(url) as client:
            kinds = [(await receive(client))["type"], (await receive(client))["type"]]
            stop()
            with pytest.raises(ConnectionClosedOK):
                while True:
                    await receive(client)
            return kinds, client.close_code

    with genrescope("serve", "--source", str(music_file), "--model", str(test_model_path)) as server:
        kinds, close_code = asyncio.run(scenario(server.ws_url, lambda: server.process.send_signal(signum)))
        status = server.process.wait(60)
        stderr = server.process.stderr.read()
    assert kinds[0] == "hello" and kinds[1] in ("history", "update")
    assert close_code == CloseCode.GOING_AWAY
    assert status == 0
    assert "Traceback" not in stderr
    assert "server stopped" in stderr and "updates" in stderr  # the run summary


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_named_streams_stop_with_one_line_and_nothing_left_behind(
    signum: signal.Signals, test_model_path: Path, music_clips: list[Path]
) -> None:
    """The batched server's reading threads are joined on stop: left running, they held the
    engines' soxr resamplers (44.1 kHz MP3s) into interpreter exit, and nanobind printed a
    leak report."""
    with genrescope(
        "serve", "--source", f"a={music_clips[0]}", "--source", f"b={music_clips[1]}", "--model", str(test_model_path)
    ) as server:
        asyncio.run(first_updates(f"{server.ws_url}?stream=a", 2))
        server.process.send_signal(signum)
        status = server.process.wait(60)
        stderr = server.process.stderr.read()
    assert stderr.splitlines() == ["genrescope: server stopped"]
    assert status == 0


def test_exit_at_end_sends_the_end_and_exits(test_model_path: Path, short_music_file: Path) -> None:
    async def scenario(url: str) -> list[dict]:
        async with connect(url) as client:
            return await receive_until_end(client)

    with genrescope(
        "serve", "--source", str(short_music_file), "--model", str(test_model_path), "--exit-at-end"
    ) as server:
        messages = asyncio.run(scenario(server.ws_url))
        status = server.process.wait(60)
        stderr = server.process.stderr.read()
    assert messages[0]["type"] == "hello" and messages[-1]["type"] == "end"
    assert any(m["type"] == "update" for m in messages)
    assert status == 0 and "Traceback" not in stderr


def _model_that_fails_mid_stream(path: Path) -> Path:
    """A real ONNX model with a valid card whose graph runs only on a context of 5 columns,
    the engine's first (a reshape): onnxruntime fails on the next one."""
    import onnx
    from onnx import TensorProto, helper

    from genrescope.model.frontend.spec import FrontendSpec
    from genrescope.model.genre.card import ModelCard
    from genrescope.training.genre.fma import GENRES

    spec = FrontendSpec()
    graph = helper.make_graph(
        [
            helper.make_node("Reshape", ["mel_db", "five_steps"], ["grouped"]),
            helper.make_node("ReduceMean", ["grouped"], ["pooled"], axes=[1], keepdims=0),
            helper.make_node("MatMul", ["pooled", "weights"], ["logits"]),
        ],
        "fails_mid_stream",
        [helper.make_tensor_value_info("mel_db", TensorProto.FLOAT, ["batch", "time", spec.n_mels])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", len(GENRES)])],
        [
            helper.make_tensor("five_steps", TensorProto.INT64, [3], [0, 5, -1]),
            helper.make_tensor(
                "weights", TensorProto.FLOAT, [spec.n_mels, len(GENRES)], [0.001] * (spec.n_mels * len(GENRES))
            ),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    card = ModelCard(labels=GENRES, frontend=spec, version="fails-mid-stream")
    for key, value in card.to_metadata().items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, path)
    return path


def test_an_engine_error_is_shown_to_the_clients_and_fails_the_command(short_music_file: Path, tmp_path: Path) -> None:
    """The server keeps its last state for the clients, who are told why it ended; the
    command still exits 1 with the reason, so a script running `--exit-at-end` sees it."""
    model = _model_that_fails_mid_stream(tmp_path / "fails.onnx")

    async def scenario(url: str) -> list[dict]:
        async with connect(url) as client:
            return await receive_until_end(client)

    with genrescope("serve", "--source", str(short_music_file), "--model", str(model), "--exit-at-end") as server:
        messages = asyncio.run(scenario(server.ws_url))
        status = server.process.wait(60)
        stderr = server.process.stderr.read()
    assert any(m["type"] == "update" for m in messages)  # the first context (5 columns) ran
    assert messages[-1]["type"] == "end" and "cannot be reshaped" in messages[-1]["error"]
    assert status == 1
    assert stderr.strip().splitlines()[-1].startswith("genrescope: error: the stream stopped on an error:")


def test_an_error_of_the_shared_model_ends_every_named_stream_and_fails_the_command(
    short_music_file: Path, tmp_path: Path
) -> None:
    """The batched server's model fails for all streams at once: each stream ends with the
    reason (not a silent freeze), the sources stop, and the command exits 1."""
    model = _model_that_fails_mid_stream(tmp_path / "fails.onnx")

    async def until_end(url: str) -> list[dict]:
        async with connect(url) as client:
            return await receive_until_end(client)

    async def scenario(url: str) -> list[list[dict]]:  # each stream's own hub keeps its end for a late client
        return await asyncio.gather(*(until_end(f"{url}?stream={name}") for name in ("a", "b")))

    with genrescope(
        "serve",
        "--source",
        f"a={short_music_file}",
        "--source",
        f"b={short_music_file}",
        "--model",
        str(model),
        "--exit-at-end",
    ) as server:
        seen = asyncio.run(scenario(server.ws_url))
        status = server.process.wait(60)
        stderr = server.process.stderr.read()
    for messages in seen:
        assert messages[-1]["type"] == "end" and "cannot be reshaped" in messages[-1]["error"]
    assert status == 1
    assert stderr.strip().splitlines()[-1].startswith("genrescope: error: the stream stopped on an error:")


def test_file_serve_feeds_the_jsonl_and_the_clients_the_same_updates(
    test_model_path: Path, short_music_file: Path, tmp_path: Path
) -> None:
    jsonl = tmp_path / "updates.jsonl"

    async def scenario(url: str) -> list[dict]:
        async with connect(url) as client:
            return await receive_until_end(client)

    with genrescope(
        "file",
        str(short_music_file),
        "--model",
        str(test_model_path),
        "--serve",
        "--exit-at-end",
        "--jsonl",
        str(jsonl),
    ) as server:
        received = [m for m in asyncio.run(scenario(server.ws_url)) if m["type"] == "update"]
        assert server.process.wait(60) == 0
    written = {m["column"]: m for m in map(json.loads, jsonl.read_text().splitlines())}
    assert received and all(written[m["column"]] == m for m in received)
    assert max(written) == received[-1]["column"]


def test_a_network_host_without_allow_remote_is_a_one_line_error() -> None:
    result = run_cli("serve", "--host", "0.0.0.0")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "genrescope: error: binding to 0.0.0.0 exposes the stream to the network; "
        "pass --allow-remote (a token is then required)"
    ]


def test_a_taken_port_is_a_one_line_error(test_model_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", "--model", str(test_model_path), "--port", str(port))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"genrescope: error: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]
