"""`genrescope file X --segments OUT` in its four formats, through the real command on real
audio (the shared clips end to end), each read back as its users read it: the CUE sheet
by libcue (pylibcue), the Audacity labels in their documented tab-separated form."""

from __future__ import annotations

import csv
import itertools
import json
import re
import subprocess
from pathlib import Path

import pylibcue
import pytest
import soundfile

from genrescope.training.genre.fma import GENRES
from support import run_cli

FORMATS = (".json", ".csv", ".cue", ".txt")
AUDACITY_LINE = re.compile(r"^(\d+\.\d{6})\t(\d+\.\d{6})\t([^\t\n]+)$")


@pytest.fixture(scope="module")
def mix(music_clips: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two real clips end to end: a minute of FLAC (its length exact, unlike a joined MP3's)."""
    folder = tmp_path_factory.mktemp("mix")
    listing = folder / "clips.txt"
    listing.write_text("".join(f"file '{clip}'\n" for clip in music_clips))
    path = folder / "mix.flac"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "concat", "-safe", "0", "-i", str(listing), str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def written(mix: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The mix's segments in every format, one real `genrescope file` run each."""
    folder = tmp_path_factory.mktemp("segments")
    outputs = {}
    for suffix in FORMATS:
        out = folder / f"segments{suffix}"
        done = run_cli("file", str(mix), "--quiet", "--cpu", "--segments", str(out))
        assert done.returncode == 0, done.stderr
        assert f"→ {out}" in done.stderr.splitlines()[-1]
        outputs[suffix] = out
    return outputs


@pytest.fixture(scope="module")
def segments(written: dict[str, Path]) -> list[dict]:
    return json.loads(written[".json"].read_text())["segments"]


def audio_seconds(path: Path) -> float:
    return soundfile.info(path).duration


def test_json_segments_cover_the_whole_file_without_gaps(written, segments, mix):
    document = json.loads(written[".json"].read_text())
    assert document["source"] == str(mix) and document["model_version"]
    assert document["segmenter"]["min_duration_s"] > 0
    assert segments[0]["start_s"] == 0
    assert segments[-1]["end_s"] == pytest.approx(audio_seconds(mix), abs=0.1)
    for before, after in itertools.pairwise(segments):
        assert before["end_s"] == after["start_s"] and before["genre"] != after["genre"]
    assert all(s["genre"] in GENRES and 0 < s["mean_probability"] <= 1 for s in segments)


def test_csv_holds_the_same_segments(written, segments):
    with open(written[".csv"], newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(float(r["start_s"]), float(r["end_s"]), r["genre"]) for r in rows] == [
        (s["start_s"], s["end_s"], s["genre"]) for s in segments
    ]


def test_libcue_reads_one_track_per_segment_at_its_start(written, segments, mix):
    sheet = pylibcue.parse_file(str(written[".cue"]))
    tracks = list(sheet)
    assert len(tracks) == len(segments)
    for number, (track, expected) in enumerate(zip(tracks, segments, strict=True), start=1):
        minutes, seconds, frames = track.start
        assert track.track_number == number
        assert (minutes * 60 + seconds) * 75 + frames == round(expected["start_s"] * 75)
        assert track.cdtext.genre == expected["genre"]
        assert track.cdtext.title.startswith(expected["genre"])
        assert (written[".cue"].parent / track.filename).resolve() == mix.resolve()


def test_audacity_labels_are_start_tab_end_tab_label_with_six_decimals(written, segments):
    lines = written[".txt"].read_text().splitlines()
    assert len(lines) == len(segments)
    for line, expected in zip(lines, segments, strict=True):
        start, end, label = AUDACITY_LINE.match(line).groups()
        assert float(start) == pytest.approx(expected["start_s"], abs=1e-3)
        assert float(end) == pytest.approx(expected["end_s"], abs=1e-3)
        assert label.split(" (unsure)")[0] == expected["genre"]


@pytest.mark.parametrize(
    "out, message",
    [
        ("segments.xml", "segments are written as .json, .csv, .cue"),
        ("missing-folder/segments.csv", "folder"),
    ],
)
def test_a_bad_segments_path_is_one_line_before_any_work(tmp_path, music_clips, out, message):
    done = run_cli("file", str(music_clips[0]), "--quiet", "--segments", str(tmp_path / out))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr
    assert "audio" not in done.stderr  # no summary: nothing was streamed
    assert list(tmp_path.iterdir()) == []


def test_more_than_99_segments_go_to_further_sheets_that_libcue_reads(tmp_path):
    """A CUE sheet holds 99 tracks (libcue refuses the 100th): 150 segments make two sheets."""
    from genrescope.stream.segments import Segment, SegmentConfig
    from genrescope.stream.segments.formats import write_segments

    segments = [Segment(40.0 * i, 40.0 * (i + 1), GENRES[i % 2], 0.7, False) for i in range(150)]
    write_segments(tmp_path / "day.cue", segments, str(tmp_path / "day.flac"), "v1", SegmentConfig())
    first, second = (list(pylibcue.parse_file(str(tmp_path / name))) for name in ("day.cue", "day-2.cue"))
    assert (len(first), len(second)) == (99, 51)
    assert second[0].start == (66, 0, 0)  # segment 100 starts at 99 × 40 s = 66 min
    assert [t.cdtext.genre for t in first + second] == [s.genre for s in segments]
