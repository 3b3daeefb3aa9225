"""How many dashboard clients one `genrescope serve` keeps at the full update rate.

Starts a real server process (the real engine on the demo source, paced in real time),
connects N websocket clients from this process, and measures over a window:
updates per second per client against the engine's rate, how far apart in time the
clients receive the same update (fan-out spread), messages skipped for slow clients,
and the server process's CPU use.

    python bench/clients.py --model model/genre_crnn.onnx --clients 1 10 100 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import machine  # noqa: E402
from genrescope.model.frontend.spec import FrontendSpec  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Client:
    """One connection's view of the window: when each column arrived, what was skipped."""

    arrivals: dict[int, float] = field(default_factory=dict)
    skipped: int = 0


@dataclass(frozen=True)
class Result:
    clients: int
    seconds: float
    expected_rate: float
    rates: list[float]
    spread_ms: list[float]
    skipped: int
    server_cpu: float  # fraction of one core

    def row(self) -> str:
        rates = sorted(self.rates)
        spread = sorted(self.spread_ms) or [0.0]
        return (
            f"| {self.clients:>7} | {self.expected_rate:6.2f} | {rates[0]:6.2f} | {statistics.median(rates):6.2f} "
            f"| {rates[-1]:6.2f} | {statistics.median(spread):7.1f} | {spread[int(0.99 * (len(spread) - 1))]:7.1f} "
            f"| {self.skipped:>7} | {100 * self.server_cpu:5.1f} % |"
        )


HEADER = (
    "| clients | engine/s | min/s | median/s | max/s | spread p50 ms | spread p99 ms | skipped | server CPU |\n"
    "|--------:|-------:|------:|-------:|------:|--------:|--------:|--------:|----------:|"
)


def start_server(model: Path | None) -> tuple[subprocess.Popen[str], int]:
    command = [sys.executable, "-m", "genrescope.stream.cli", "serve", "--source", "demo", "--port", "0"]
    if model is not None:
        command += ["--model", str(model)]
    process = subprocess.Popen(command, cwd=REPO, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    for line in process.stderr:
        found = re.search(r"serving http://[^ ]*:(\d+)/", line)
        if found:
            return process, int(found.group(1))
    raise SystemExit("the server exited before serving")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def listen(connection: ClientConnection, client: Client, until: float) -> None:
    loop = asyncio.get_running_loop()
    while loop.time() < until:
        message = json.loads(await connection.recv())
        if message["type"] == "update":
            client.arrivals[message["column"]] = time.monotonic()
        elif message["type"] == "lag":
            client.skipped = message["dropped"]


async def measure(port: int, pid: int, clients: int, seconds: float) -> Result:
    connections = [await connect(f"ws://127.0.0.1:{port}/ws") for _ in range(clients)]
    hello = json.loads(await connections[0].recv())
    column_seconds = FrontendSpec.from_json(json.dumps(hello["frontend"])).column_seconds
    for connection in connections:  # everyone past the hello and the engine's warm-up
        while json.loads(await connection.recv())["type"] != "update":
            pass
    views = [Client() for _ in connections]
    cpu_before = cpu_seconds(pid)
    until = asyncio.get_running_loop().time() + seconds
    await asyncio.gather(*(listen(c, view, until) for c, view in zip(connections, views, strict=True)))
    cpu = (cpu_seconds(pid) - cpu_before) / seconds
    for connection in connections:
        await connection.close()
    columns = set.intersection(*(set(view.arrivals) for view in views))
    spread = [1e3 * (max(v.arrivals[c] for v in views) - min(v.arrivals[c] for v in views)) for c in columns]
    return Result(
        clients,
        seconds,
        1 / column_seconds,
        [len(v.arrivals) / seconds for v in views],
        spread,
        sum(v.skipped for v in views),
        cpu,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="ONNX model (default: the shipped one)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--seconds", type=float, default=20.0, help="measurement window per run")
    args = parser.parse_args()
    process, port = start_server(args.model)
    try:
        print(f"{machine()}; window {args.seconds:.0f} s, demo source in real time\n")
        print(HEADER)
        for clients in args.clients:
            print(asyncio.run(measure(port, process.pid, clients, args.seconds)).row(), flush=True)
    finally:
        process.terminate()
        process.wait()


if __name__ == "__main__":
    main()
