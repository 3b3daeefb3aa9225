"""Soak test: does a long-running server stay flat in memory, file handles and rate?

Starts a real `genrescope serve` process on the demo source (paced in real time like a
live input, endless) — or, with ``--streams N``, on N named demo streams plus
``--radio K`` radio streams from a local station that cuts each connection mid-chunk
every ``--cut-every`` seconds (tests/radio_server.py: real MP3 bytes, real sockets), so
the reconnect path runs all along — and keeps clients on it for a configurable time
from this process: steady readers, one slow reader (its queue overflows, so it is sent `lag`
notices and drops), and one that reconnects over and over (each visit also fetches the
dashboard page over plain HTTP). Every few seconds it samples the server process's
resident memory, open file descriptors and threads (from /proc), the update rate a
steady client receives, and the lag: how far the stream's own clock fell behind the
wall clock since the first update. At the end it prints the least-squares slope of each
over the run after a warm-up, and writes every sample as JSON.

    python bench/soak.py --minutes 60 --json bench/soak-cpu.json
    python bench/soak.py --minutes 60 --streams 16 --radio 2 --json bench/soak-named-cpu.json

With named streams the steady and reconnecting clients read the overview socket ``/ws``
(every stream; its history on joining is bounded to 1 MiB), the slow one a stream's own
socket, and the tally follows the first stream.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the misbehaving radio station of the tests

from bench.clients import cpu_seconds  # noqa: E402
from bench.common import machine  # noqa: E402

FIRST = "s00"  # the named stream the tally follows
SLOW_READ_SECONDS = 2.0  # the slow client reads one message this often (the engine sends ≈4.3/s)
VISIT_UPDATES = 10  # the reconnecting client leaves after this many updates


@dataclass
class Tally:
    """What the clients saw; written by their tasks, read by the sampler."""

    updates: int = 0  # received by the first steady client
    first: tuple[float, float] | None = None  # (wall, stream time) of its first update
    newest: tuple[float, float] | None = None  # ... and of its newest
    slow_dropped: int = 0  # as the server's `lag` notices to the slow client said (this visit)
    slow_closed: int = 0  # times the server closed the slow client (keepalive timeout)
    visits: int = 0  # completed reconnecting-client visits
    pages: int = 0  # dashboard pages fetched over HTTP
    failures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Sample:
    seconds: float  # since the clients started
    rss_mb: float
    fds: int
    threads: int
    update_rate: float  # updates/s a steady client received over the last interval
    lag_s: float  # wall time minus stream time since the first update
    slow_dropped: int
    slow_closed: int
    visits: int
    server_cpu: float  # fraction of one core over the last interval


def start_server(model: Path | None, log: Path, sources: list[str]) -> tuple[subprocess.Popen[bytes], int]:
    """The server process on ``sources`` on a free port; its stderr goes to ``log``
    (never a pipe nobody reads, which would stall it once full)."""
    command = [sys.executable, "-m", "genrescope.stream.cli", "serve", "--port", "0"]
    command += [part for source in sources for part in ("--source", source)]
    if model is not None:
        command += ["--model", str(model)]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        found = re.search(r"serving http://[^ ]*:(\d+)/", log.read_text(errors="replace"))
        if found:
            return process, int(found.group(1))
        time.sleep(0.2)
    raise SystemExit(f"the server did not start:\n{log.read_text(errors='replace')}")


@contextmanager
def cutting_station(folder: Path, cut_every: float) -> Iterator:
    """A live station (the demo loop as MP3) whose every connection is cut mid-chunk after
    ``cut_every`` seconds, for days."""
    import soundfile as sf
    from radio_server import Play, encode_mp3, radio_station

    from genrescope.stream.sources.demo import RATE, DemoSource

    sf.write(folder / "loop.wav", np.concatenate([c.samples for c in DemoSource(realtime=False, seconds=60)]), RATE)
    mp3 = encode_mp3(folder / "loop.wav", folder / "loop.mp3")
    with radio_station(mp3, [Play(cut_every, "cut")] * 1_000_000) as station:
        yield station


def gap_metrics(port: int) -> str:
    """The server's own count of each stream's gaps and dropped frames, from /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        lines = response.read().decode().splitlines()
    return "\n".join(
        line for line in lines if line.startswith(("genrescope_source_gaps{", "genrescope_dropped_frames{"))
    )


def proc_status(pid: int) -> tuple[float, int, int]:
    """(resident MB, open file descriptors, threads) of a process, from /proc."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    fds = sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())
    return int(status["VmRSS"].split()[0]) / 1024, fds, int(status["Threads"])


async def steady(url: str, tally: Tally | None) -> None:
    """Read every message; the first steady client keeps the tally (of the first stream)."""
    async with connect(url) as client:
        async for text in client:
            message = json.loads(text)
            followed = message.get("stream") in (None, FIRST)  # the single stream, or the first named one
            if tally is not None and message["type"] == "update" and followed:
                now = (time.monotonic(), message["time"])
                tally.first = tally.first or now
                tally.newest = now
                tally.updates += 1


async def slow(url: str, port: int, tally: Tally) -> None:
    """Read one message every SLOW_READ_SECONDS: the server must drop for it, not grow.

    A small receive buffer (set before connecting, so the TCP window is small) makes the
    backlog reach the server's queue within a minute instead of many. Such a client
    cannot answer the server's keepalive pings in time (its pongs wait behind unread
    data), so the server may close it; it then comes back, as a stalled tab would.
    """
    while True:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.setblocking(False)
        try:
            async with connect(url, sock=sock, max_queue=1, ping_interval=None) as client:
                while True:
                    message = json.loads(await client.recv())
                    if message["type"] == "lag":
                        tally.slow_dropped = message["dropped"]
                    await asyncio.sleep(SLOW_READ_SECONDS)
        except ConnectionClosed:
            tally.slow_closed += 1


async def reconnecting(url: str, port: int, tally: Tally) -> None:
    """Visit after visit: fetch the page, connect, take a few updates, leave."""
    while True:
        await fetch_page(port)
        tally.pages += 1
        async with connect(url) as client:
            updates = 0
            while updates < VISIT_UPDATES:
                updates += json.loads(await client.recv())["type"] == "update"
        tally.visits += 1
        await asyncio.sleep(0.5)


async def fetch_page(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    status = await reader.readline()
    await reader.read()
    writer.close()
    await writer.wait_closed()
    if b" 200 " not in status:
        raise RuntimeError(f"dashboard page: {status!r}")


async def watch(task: asyncio.Task, name: str, tally: Tally) -> None:
    """Note a client that ended (it never should while the server runs)."""
    try:
        await task
    except asyncio.CancelledError:
        raise
    except (ConnectionClosed, OSError, RuntimeError) as error:
        tally.failures.append(f"{name}: {type(error).__name__}: {error}")


async def soak(port: int, pid: int, seconds: float, every: float, steady_clients: int, named: bool) -> list[Sample]:
    url = f"ws://127.0.0.1:{port}/ws"
    tally = Tally()
    clients = {f"steady{i}": steady(url, tally if i == 0 else None) for i in range(steady_clients)}
    slow_url = f"{url}?stream={FIRST}" if named else url
    clients |= {"slow": slow(slow_url, port, tally), "reconnecting": reconnecting(url, port, tally)}
    tasks = [asyncio.create_task(watch(asyncio.create_task(c), name, tally)) for name, c in clients.items()]
    samples: list[Sample] = []
    started = time.monotonic()
    last_updates, last_cpu, last_time = 0, cpu_seconds(pid), started
    try:
        while time.monotonic() - started < seconds:
            await asyncio.sleep(every)
            now, cpu = time.monotonic(), cpu_seconds(pid)
            rss, fds, threads = proc_status(pid)
            lag = 0.0
            if tally.first and tally.newest:
                lag = (tally.newest[0] - tally.first[0]) - (tally.newest[1] - tally.first[1])
            sample = Sample(
                round(now - started, 1),
                round(rss, 2),
                fds,
                threads,
                round((tally.updates - last_updates) / (now - last_time), 3),
                round(lag, 3),
                tally.slow_dropped,
                tally.slow_closed,
                tally.visits,
                round((cpu - last_cpu) / (now - last_time), 4),
            )
            samples.append(sample)
            print(
                f"{sample.seconds:8.0f} s  rss {sample.rss_mb:7.1f} MB  fds {fds:3d}  threads {threads:3d}  "
                f"{sample.update_rate:5.2f} updates/s  lag {sample.lag_s:+6.2f} s  slow dropped "
                f"{sample.slow_dropped:6d}  closed {sample.slow_closed:3d}  visits {sample.visits:5d}",
                flush=True,
            )
            last_updates, last_cpu, last_time = tally.updates, cpu, now
            if tally.failures:
                raise SystemExit("a client failed: " + "; ".join(tally.failures))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return samples


def slope_per_hour(samples: list[Sample], name: str) -> float:
    """Least-squares slope of one sampled quantity, per hour."""
    hours = np.array([s.seconds for s in samples]) / 3600
    values = np.array([getattr(s, name) for s in samples], dtype=float)
    return float(np.polyfit(hours, values, 1)[0]) if len(samples) > 1 else 0.0


def summarise(samples: list[Sample], warmup: float) -> dict[str, float]:
    """Slopes after the warm-up, and the level at its start and at the end."""
    kept = [s for s in samples if s.seconds >= warmup] or samples
    rates = [s.update_rate for s in kept]
    return {
        "warmup_seconds": warmup,
        "samples": len(kept),
        "rss_mb_start": kept[0].rss_mb,
        "rss_mb_end": kept[-1].rss_mb,
        "rss_mb_per_hour": round(slope_per_hour(kept, "rss_mb"), 3),
        "fds_start": kept[0].fds,
        "fds_end": kept[-1].fds,
        "fds_per_hour": round(slope_per_hour(kept, "fds"), 3),
        "threads_per_hour": round(slope_per_hour(kept, "threads"), 3),
        "update_rate_mean": round(float(np.mean(rates)), 3),
        "update_rate_min": min(rates),
        "update_rate_per_hour": round(slope_per_hour(kept, "update_rate"), 4),
        "lag_s_end": kept[-1].lag_s,
        "lag_s_per_hour": round(slope_per_hour(kept, "lag_s"), 3),
        "server_cpu_mean": round(float(np.mean([s.server_cpu for s in kept])), 4),
        "slow_client_dropped": kept[-1].slow_dropped,
        "slow_client_closed": kept[-1].slow_closed,
        "reconnecting_visits": kept[-1].visits,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="how long the clients stay on (default 60)")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples (default 10)")
    parser.add_argument(
        "--warmup",
        type=float,
        default=300.0,
        help="seconds left out of the slopes while allocators settle (default 300)",
    )
    parser.add_argument(
        "--steady", type=int, default=2, help="steady clients besides the slow and the reconnecting one (default 2)"
    )
    parser.add_argument("--streams", type=int, default=0, help="named demo streams (default 0: one unnamed demo)")
    parser.add_argument(
        "--radio",
        type=int,
        default=0,
        help="with --streams: radio streams from a local station that cuts each connection (default 0)",
    )
    parser.add_argument(
        "--cut-every",
        type=float,
        default=30.0,
        help="seconds of audio per radio connection before its cut (default 30)",
    )
    parser.add_argument("--model", type=Path, default=None, help="ONNX model (default: the shipped one)")
    parser.add_argument("--json", type=Path, default=None, help="write the samples and the summary here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as stack:
        sources = [f"s{i:02d}=demo" for i in range(args.streams)] or ["demo"]
        if args.radio:
            station = stack.enter_context(cutting_station(Path(scratch), args.cut_every))
            sources += [f"r{i:02d}={station.url()}" for i in range(args.radio)]
        process, port = start_server(args.model, Path(scratch) / "server.log", sources)
        try:
            print(
                f"{machine()}; {len(sources)} source(s) in real time ({', '.join(sources)}); {args.steady} steady "
                f"+ 1 slow + 1 reconnecting client(s), {args.minutes:g} min\n",
                flush=True,
            )
            samples = asyncio.run(
                soak(port, process.pid, 60 * args.minutes, args.every, args.steady, bool(args.streams))
            )
            if args.streams:
                print(gap_metrics(port), flush=True)
        finally:
            process.terminate()
            process.wait()
        if args.radio:
            print(f"radio connections served: {station.connections}", flush=True)
    summary = summarise(samples, min(args.warmup, samples[-1].seconds / 2))
    print("\n" + "\n".join(f"{key:>24}: {value}" for key, value in summary.items()))
    if args.json:
        document = {
            "machine": machine(),
            "minutes": args.minutes,
            "every_seconds": args.every,
            "sources": sources,
            "steady_clients": args.steady,
            "summary": summary,
            "samples": [asdict(s) for s in samples],
        }
        args.json.write_text(json.dumps(document, indent=1) + "\n")


if __name__ == "__main__":
    main()
