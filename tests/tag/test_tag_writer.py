"""Genres written into real files made by ffmpeg: the right key per format, an existing
genre kept unless forced, and the audio and every other tag left exactly as they were."""

import json
import shutil
import subprocess

import mutagen
import numpy as np
import pytest

from genrescope.stream.sources.audio_file import decode_blocks
from genrescope.stream.tag.writer import genre_fields, write_fields

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")

# suffix → ffmpeg codec arguments
FORMATS = {
    "mp3": ["-c:a", "libmp3lame", "-b:a", "96k"],
    "flac": ["-c:a", "flac"],
    "ogg": ["-c:a", "libvorbis", "-q:a", "2"],
    "m4a": ["-c:a", "aac", "-b:a", "96k"],
}
PROBABILITIES = {"Rock": 0.55, "Pop": 0.3, "Folk": 0.15}
# where the genre lands, per format
GENRE_KEYS = {"mp3": "TCON", "flac": "genre", "ogg": "genre", "m4a": "\xa9gen"}


def make_file(path, genre=None):
    """Two seconds of a chord with title, artist and album tags (and a genre if given)."""
    tags = {"title": "A Title", "artist": "An Artist", "album": "An Album", "date": "2001"}
    if genre:
        tags["genre"] = genre
    metadata = [arg for key, value in tags.items() for arg in ("-metadata", f"{key}={value}")]
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=2",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=660:duration=2",
            "-filter_complex",
            "amerge=inputs=2",
            *metadata,
            *FORMATS[path.suffix[1:]],
            str(path),
        ],
        check=True,
    )
    return path


def samples(path):
    return np.concatenate([chunk.samples for chunk in decode_blocks(path)])


def other_tags(path):
    """Every tag but the genre and ours, as comparable text."""
    tags = mutagen.File(str(path)).tags
    genre_key = GENRE_KEYS[path.suffix[1:]]
    return {
        str(k): str(v) for k, v in tags.items() if k.lower() != genre_key.lower() and "genrescope" not in str(k).lower()
    }


def genre_values(path):
    tags = mutagen.File(str(path)).tags
    value = tags.get(GENRE_KEYS[path.suffix[1:]])
    return [] if value is None else list(value.text if hasattr(value, "text") else value)


@pytest.mark.parametrize("suffix", FORMATS)
def test_genres_written_audio_and_other_tags_unchanged(suffix, tmp_path):
    path = make_file(tmp_path / f"song.{suffix}")
    audio, tags = samples(path), other_tags(path)
    assert len(tags) >= 4 and len(audio) > 44_100  # title, artist, album, date (+ encoder): something to keep
    result = write_fields(path, genre_fields(PROBABILITIES, "model-1", min_confidence=0.25))
    assert result.changed and result.kept == ()
    assert genre_values(path) == ["Rock", "Pop"]  # one value per genre over the threshold
    np.testing.assert_array_equal(samples(path), audio)
    assert other_tags(path) == tags
    ours = {str(k).lower(): v for k, v in mutagen.File(str(path)).tags.items() if "genrescope" in str(k).lower()}
    text = " ".join(str(v) if not isinstance(v, list) else " ".join(map(str, v)) for v in ours.values())
    assert "model-1" in text and len(ours) == 2
    assert (
        "0.55" in text
        and json.loads(next(v for k, v in _our_values(path).items() if k.endswith("probabilities"))) == PROBABILITIES
    )
    mtime = path.stat().st_mtime_ns
    assert not write_fields(path, genre_fields(PROBABILITIES, "model-1", 0.25)).changed  # nothing new: not saved
    assert path.stat().st_mtime_ns == mtime


def _our_values(path):
    """Our namespaced fields, format-neutral: lower-case name → the first value as text."""
    values = {}
    for key, value in mutagen.File(str(path)).tags.items():
        if "genrescope" in str(key).lower():
            first = value.text[0] if hasattr(value, "text") else value[0]
            values[str(key).lower()] = first.decode() if isinstance(first, bytes) else str(first)
    return values


@pytest.mark.parametrize("suffix", FORMATS)
def test_an_existing_genre_is_kept_unless_forced(suffix, tmp_path):
    path = make_file(tmp_path / f"song.{suffix}", genre="Jazz")
    audio = samples(path)
    result = write_fields(path, genre_fields(PROBABILITIES, "model-1", 0.25))
    assert result.kept == ("genre",) and genre_values(path) == ["Jazz"]
    assert result.changed  # the namespaced probabilities are ours: always written
    result = write_fields(path, genre_fields(PROBABILITIES, "model-1", 0.25), force=True)
    assert result.changed and genre_values(path) == ["Rock", "Pop"]
    np.testing.assert_array_equal(samples(path), audio)


def test_no_genre_over_the_threshold_writes_none(tmp_path):
    path = make_file(tmp_path / "song.flac")
    write_fields(path, genre_fields(PROBABILITIES, "model-1", min_confidence=0.9))
    assert genre_values(path) == [] and _our_values(path)["genrescope_model"] == "model-1"


KEY_KEYS = {"mp3": "TKEY", "flac": "key", "ogg": "key", "m4a": "----:com.apple.iTunes:initialkey"}


@pytest.mark.parametrize("suffix", FORMATS)
def test_the_musical_key_goes_where_dj_software_reads_it(suffix, tmp_path):
    path = make_file(tmp_path / f"song.{suffix}")
    audio = samples(path)
    write_fields(path, genre_fields(PROBABILITIES, "model-1", 0.25, key_tag="F#m"))
    value = mutagen.File(str(path)).tags.get(KEY_KEYS[suffix])
    values = list(value.text if hasattr(value, "text") else value)
    assert [v.decode() if isinstance(v, bytes) else str(v) for v in values] == ["F#m"]
    assert genre_values(path) == ["Rock", "Pop"]
    np.testing.assert_array_equal(samples(path), audio)
