"""What the plain runtime install costs a user, and what the numpy frontend costs per update.

In one run on one machine:

* **venv size**: a fresh venv with ``pip install .`` (no extras), built and smoke-tested
  by ``scripts/runtime_smoke.sh`` (no torch importable, one namespace, a real MP3 streams);
* **``genrescope --help``** from that venv, several fresh starts;
* **first update**: from starting ``genrescope file SONG.mp3 --jsonl -`` to its first
  JSON line on stdout (the time a user waits for the first genre);
* **peak RSS** of ``genrescope file`` on a 3-minute MP3 (the real clips of
  ``../shared/data/music`` looped with ffmpeg), as ``/usr/bin/time`` reports it;
* **per-update compute** of the engine with the numpy frontend and with the torch
  frontend on the CPU, the same model and audio, alternating rounds (this needs torch,
  so it runs in the interpreter that runs the bench, not in the runtime venv).

Times are given twice: wall clock, and CPU time (user + system), which a host shared
with other work inflates far less (the load average is recorded at start and end).

    nice -n 10 .venv/bin/python bench/install.py --json bench/install-cpu.json
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, percentiles, save

ROOT = Path(__file__).resolve().parents[1]
MUSIC = ROOT.parent / "shared" / "data" / "music"
SIMD_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "amx_tile",
)


def cpu_flags() -> list[str]:
    """The SIMD flags of the CPU (numpy's FFT and onnxruntime's kernels pick their code by them)."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            present = set(line.split(":", 1)[1].split())
            return [flag for flag in SIMD_FLAGS if flag in present]
    return []


def three_minute_mp3(folder: Path, seconds: float = 180.0) -> Path:
    """The real clips, each resampled to 44.1 kHz stereo, concatenated and looped to ``seconds``."""
    clips = sorted(MUSIC.glob("*.mp3"))
    if not clips:
        raise SystemExit(f"no MP3 clips in {MUSIC}")
    inputs = [arg for clip in clips for arg in ("-stream_loop", "-1", "-t", "30", "-i", str(clip))]
    chain = "".join(f"[{i}:a]aresample=44100,aformat=channel_layouts=stereo[a{i}];" for i in range(len(clips)))
    chain += (
        "".join(f"[a{i}]" for i in range(len(clips)))
        + f"concat=n={len(clips)}:v=0:a=1,aloop=loop=-1:size=2e9,asetpts=N/SR/TB[out]"
    )
    out = folder / "three_minutes.mp3"
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            *inputs,
            "-filter_complex",
            chain,
            "-map",
            "[out]",
            "-t",
            str(seconds),
            "-b:a",
            "192k",
            str(out),
        ],
        check=True,
    )
    return out


def runtime_venv(folder: Path) -> tuple[Path, int]:
    """A fresh plain runtime venv (smoke-tested), and its size in bytes."""
    venv = folder / "venv"
    subprocess.run(["bash", str(ROOT / "scripts" / "runtime_smoke.sh"), str(venv)], check=True)
    size = int(subprocess.run(["du", "-sb", str(venv)], capture_output=True, text=True, check=True).stdout.split()[0])
    return venv, size


def cpu_seconds(usage: os.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def help_seconds(genrescope: Path, runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU time of ``genrescope --help``, one fresh process per run."""
    wall, cpu = [], []
    for _ in range(runs):
        started = time.perf_counter()
        process = subprocess.Popen([str(genrescope), "--help"], stdout=subprocess.DEVNULL)
        _, _, usage = os.wait4(process.pid, 0)
        wall.append(time.perf_counter() - started)
        cpu.append(cpu_seconds(usage))
    return wall, cpu


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) a running process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def first_update_seconds(genrescope: Path, song: Path) -> tuple[float, float]:
    """From starting ``genrescope file`` to its first JSONL line on stdout: wall and CPU time."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(genrescope), "file", str(song), "--quiet", "--jsonl", "-"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=tempfile.gettempdir(),
    )
    line = process.stdout.readline()
    elapsed = time.perf_counter() - started
    cpu = process_cpu_seconds(process.pid)
    process.kill()
    process.wait()
    if not line.startswith(b'{"type": "update"'):
        raise SystemExit(f"genrescope file gave no update: {line[:200]!r}")
    return elapsed, cpu


def peak_rss(genrescope: Path, song: Path, folder: Path) -> dict[str, float]:
    """Peak resident memory (MB), wall and CPU time (s) of one whole ``genrescope file`` run.

    Measured by ``/usr/bin/time``, not by this process's ``wait4``: Linux carries a forked
    child's pre-exec high-water mark (this process's, which torch makes large) into the
    child's ``ru_maxrss``; ``time`` is small when it forks.
    """
    report = folder / "time.txt"
    subprocess.run(
        [
            "/usr/bin/time",
            "-o",
            str(report),
            "-f",
            "%M %e %U %S",
            str(genrescope),
            "file",
            str(song),
            "--quiet",
            "--jsonl",
            os.devnull,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tempfile.gettempdir(),
        check=True,
    )
    kib, wall, user, system = map(float, report.read_text().split()[-4:])
    return {"peak_rss_mb": round(kib / 1024, 1), "wall_seconds": wall, "cpu_seconds": round(user + system, 2)}


def frontend_compute(song: Path, rounds: int) -> dict:
    """Steady-state per-update compute, numpy vs torch-on-CPU frontend, alternating rounds.

    Two clocks per update: the wall time the engine itself reports (``stats.compute_ms``),
    and the CPU time of the engine's thread (both frontends and onnxruntime run on that one
    thread), which waiting for a core shared with other work does not inflate.
    """
    from genrescope.model.frontend.frontend_torch import TorchMelFrontend
    from genrescope.stream.engine.engine import EngineConfig, load_engine
    from genrescope.stream.sources.filesource import FileSource

    engine = load_engine(None, EngineConfig(frontend_device="cpu"), prefer_gpu=False)
    frontends = {"numpy": engine.frontend, "torch_cpu": TorchMelFrontend(engine.spec, "cpu")}
    full = engine.spec.context_seconds - 0.01
    wall: dict[str, list[float]] = {name: [] for name in frontends}
    cpu: dict[str, list[float]] = {name: [] for name in frontends}
    # The engine's own per-update work (the column's FFT and context, then the model), timed
    # on the thread's CPU clock too: both steps of each column, wrapped.
    accept, run_model = engine.accept, engine._run_model
    prepare_cpu: dict[int, float] = {}

    def timed_accept(windows, features=None) -> list:
        """The columns' FFT and context (``accept``), its CPU time shared among them."""
        started = time.thread_time()
        pending = accept(windows, features)
        for column in pending:
            prepare_cpu[column.column] = (time.thread_time() - started) / len(pending)
        return pending

    for _ in range(rounds):
        for name, frontend in frontends.items():

            def timed_run(pending: list, name: str = name) -> list:
                updates = []
                for column in pending:
                    started = time.thread_time()
                    [update] = run_model([column])
                    spent = time.thread_time() - started + prepare_cpu.pop(column.column, 0.0)
                    if update.context_seconds >= full:
                        cpu[name].append(spent * 1e3)
                        wall[name].append(update.stats.compute_ms)
                    updates.append(update)
                return updates

            engine.accept, engine._run_model = timed_accept, timed_run
            engine.frontend = frontend
            engine.reset()
            for _ in engine.run(FileSource(song)):
                pass
    result = {"provider": engine.provider, "model": engine.model_version, "threads": 1, "rounds": rounds}
    for clock, times in (("wall_ms", wall), ("cpu_ms", cpu)):
        stats = {name: percentiles(values) for name, values in times.items()}
        result[clock] = {
            **stats,
            "torch_over_numpy": {p: stats["torch_cpu"][p] / stats["numpy"][p] for p in ("p50", "p90", "p99")},
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--help-runs", type=int, default=9, help="starts of `genrescope --help` (default 9)")
    parser.add_argument("--first-update-runs", type=int, default=7, help="starts of `genrescope file` (default 7)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per frontend (default 3)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="genrescope-install-bench-"))
    try:
        song = three_minute_mp3(folder)
        venv, size = runtime_venv(folder)
        genrescope = venv / "bin" / "genrescope"
        help_wall, help_cpu = help_seconds(genrescope, args.help_runs)
        first = [first_update_seconds(genrescope, song) for _ in range(args.first_update_runs)]
        results = {
            "machine": machine(),
            "cpu_flags": cpu_flags(),
            "load_average_at_start": os.getloadavg(),
            "runtime_venv_bytes": size,
            "runtime_venv_mb": round(size / 1e6, 1),
            "help": {"wall_seconds": percentiles(help_wall), "cpu_seconds": percentiles(help_cpu)},
            "first_update": {
                "wall_seconds": percentiles([w for w, _ in first]),
                "cpu_seconds": percentiles([c for _, c in first]),
            },
            "song": {"seconds": 180.0, "made_from": sorted(p.name for p in MUSIC.glob("*.mp3"))},
            "file_3min": peak_rss(genrescope, song, folder),
            "per_update_compute": frontend_compute(song, args.rounds),
            "load_average_at_end": os.getloadavg(),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    save(results, args.json)


if __name__ == "__main__":
    main()
