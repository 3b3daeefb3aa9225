"""The metrics records in the repository (model/metrics.json, model/cover_metrics.json):
read as a dict (empty while the file does not exist yet) and written back whole.

Several commands add their own block to one record (evaluate its splits, cv its folds,
fourq-eval and domain-check their out-of-FMA reports), each keeping what the others wrote;
this is the one place that reads and writes them."""

from __future__ import annotations

import json
from pathlib import Path

from genrescope.stream.outputs import write_text_whole


def read_record(path: Path) -> dict:
    """The record at ``path``; ``{}`` before anything was recorded there."""
    return json.loads(path.read_text()) if path.exists() else {}


def write_record(path: Path, record: dict, indent: int = 1, end: str = "") -> None:
    """``record`` as JSON, replacing the file whole (stream/outputs.py)."""
    write_text_whole(path, json.dumps(record, indent=indent) + end)


def record_out_of_fma(path: Path, name: str, report: dict) -> dict:
    """``report`` under ``out_of_fma.NAME`` of the record at ``path``; the whole record."""
    record = read_record(path)
    record.setdefault("out_of_fma", {})[name] = report
    write_record(path, record)
    return record
