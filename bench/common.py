"""Shared helpers for the benchmarks: machine description and percentiles."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import numpy as np


def machine() -> str:
    """CPU model, core count and GPU, for the line under every reported number."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = "no GPU"
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {gpu}"


def percentiles(values: list[float]) -> dict[str, float]:
    array = np.asarray(values)
    return {
        "n": int(array.size),
        "p50": float(np.percentile(array, 50)),
        "p90": float(np.percentile(array, 90)),
        "p99": float(np.percentile(array, 99)),
        "max": float(array.max()),
    }


def save(results: dict, path: Path | None) -> None:
    text = json.dumps(results, indent=1)
    print(text)
    if path is not None:
        path.write_text(text + "\n")
