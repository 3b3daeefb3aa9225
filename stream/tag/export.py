"""``genrescope tag --export``: the store written out as JSON lines, CSV or Parquet.

JSON lines are the stable interchange: every line carries ``format`` (bumped when a
field changes meaning), the model version, the model's labels in order, the top genre,
the probabilities and the segments (a list, empty for files shorter than
stream.segments.tagging's threshold). CSV has one column per label (of every model in the
store) for spreadsheets, and the segments in a second CSV beside it, OUT-segments.csv,
one row per segment keyed by path and model version (a list does not fit a spreadsheet
cell); Parquet, the same table typed with the segments as a list column, needs pyarrow
(``genrescope[parquet]``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from genrescope.stream.outputs import written_whole
from genrescope.stream.tag.store import StoredTags, TagStore

EXPORT_FORMAT = 1
SUFFIXES = (".jsonl", ".csv", ".parquet")
ROW_FIELDS = ("path", "model_version", "size", "mtime_ns", "status", "audio_seconds", "genre", "error", "tagged_at")
# The whole-file key as `tag --jsonl` gives it: 'A minor', its tag form 'Am', the fit.
KEY_FIELDS = ("key", "key_tag", "key_confidence")
FIXED_COLUMNS = (*ROW_FIELDS, *KEY_FIELDS)
SEGMENT_FIELDS = ("start_s", "end_s", "genre", "mean_probability", "unsure")


class ExportError(ValueError):
    """An export the user asked for that cannot be made (suffix, missing pyarrow)."""


def check_export_path(path: Path) -> None:
    """Refuse an unknown format before any work is done."""
    if path.suffix.lower() not in SUFFIXES:
        raise ExportError(f"{path}: export to {', '.join(SUFFIXES)} (chosen by the file's suffix)")
    if path.suffix.lower() == ".parquet":
        _pyarrow()


def export(store: TagStore, path: Path) -> int:
    """Write every row of ``store`` to ``path`` in the format its suffix names; the row count."""
    check_export_path(path)
    records = list(_records(store))
    writer = {".jsonl": _write_jsonl, ".csv": _write_csv, ".parquet": _write_parquet}[path.suffix.lower()]
    writer(records, path)
    return len(records)


def _records(store: TagStore) -> Iterator[dict]:
    labels: dict[str, list[str]] = {}
    for row in store.rows():
        if row.model_version not in labels:
            labels[row.model_version] = store.labels(row.model_version)
        yield _record(row, labels[row.model_version])


def _record(row: StoredTags, labels: list[str]) -> dict:
    return {
        "format": EXPORT_FORMAT,
        **{name: getattr(row, name) for name in ROW_FIELDS},
        "key": row.key.name,
        "key_tag": row.musical_key,
        "key_confidence": row.key_confidence,
        "labels": labels,
        "probabilities": row.probabilities,
        "segments": [s.to_json() for s in row.segments],
    }


def _write_jsonl(records: list[dict], path: Path) -> None:
    with written_whole(path) as out:
        for record in records:
            out.write(json.dumps(record) + "\n")


def _flat(records: list[dict]) -> tuple[list[str], list[dict]]:
    """One column per label, in the models' label order, after the fixed columns."""
    labels = list(dict.fromkeys(label for record in records for label in record["labels"]))
    rows = [
        {
            **{name: record[name] for name in FIXED_COLUMNS},
            **{label: record["probabilities"].get(label) for label in labels},
        }
        for record in records
    ]
    return [*FIXED_COLUMNS, *labels], rows


def segments_csv_path(path: Path) -> Path:
    """Where the CSV export puts the segments: OUT-segments.csv beside OUT.csv."""
    return path.with_name(f"{path.stem}-segments{path.suffix}")


def _write_csv(records: list[dict], path: Path) -> None:
    columns, rows = _flat(records)
    _write_table(path, columns, rows)
    segments = [{"path": r["path"], "model_version": r["model_version"], **s} for r in records for s in r["segments"]]
    _write_table(segments_csv_path(path), ["path", "model_version", *SEGMENT_FIELDS], segments)


def _write_table(path: Path, columns: list[str], rows: list[dict]) -> None:
    with written_whole(path, newline="") as out:
        writer = csv.DictWriter(out, columns)
        writer.writeheader()
        writer.writerows(rows)


def _write_parquet(records: list[dict], path: Path) -> None:
    pa, parquet = _pyarrow()
    columns, rows = _flat(records)
    table = pa.Table.from_pylist(rows) if rows else pa.table({name: [] for name in columns})
    segment = pa.struct(
        [
            ("start_s", pa.float64()),
            ("end_s", pa.float64()),
            ("genre", pa.string()),
            ("mean_probability", pa.float64()),
            ("unsure", pa.bool_()),
        ]
    )
    table = table.append_column("segments", pa.array([r["segments"] for r in records], type=pa.list_(segment)))
    with written_whole(path, "wb") as out:
        parquet.write_table(table, out)


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as error:
        raise ExportError("Parquet export needs pyarrow: pip install 'genrescope[parquet]'") from error
    return pyarrow, pyarrow.parquet
