"""Library tagging: whole-file estimates, folder walks, and the real `genrescope tag` CLI."""

import json
import shutil

import numpy as np
import pytest

from genrescope.stream.sources.filesource import FileSource
from genrescope.stream.tag.library import find_audio, tag_file, tagging_engine
from support import run_cli, write_tone


@pytest.fixture(scope="module")
def engine(test_model_path):
    return tagging_engine(test_model_path, cpu=True)


def test_tags_are_the_mean_of_the_updates(engine, tmp_path):
    path = write_tone(tmp_path / "tone.flac", 4.0, rate=48_000, channels=2)
    engine.reset()  # the module shares one engine
    raw = np.array([u.raw_probabilities for u in engine.run(FileSource(path))])
    tags = tag_file(engine, path)  # the same engine again: tagging resets it first
    assert tags.error is None and tags.audio_seconds == pytest.approx(4.0, abs=0.05)
    np.testing.assert_allclose(list(tags.probabilities.values()), raw.mean(0), atol=1e-4)
    assert tags.genre == engine.labels[int(raw.mean(0).argmax())]


def test_a_file_too_short_for_an_update_has_no_tags(engine, tmp_path):
    path = write_tone(tmp_path / "blip.wav", 0.3)
    tags = tag_file(engine, path)
    assert tags.probabilities == {} and tags.genre is None and "too short" in tags.text()


def test_folders_are_walked_for_audio_only(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/b/two.flac", "a/one.mp3", "a/cover.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    named = tmp_path / "notes.txt"  # a file named on purpose is tried whatever its suffix
    assert find_audio([tmp_path / "a", named]) == [tmp_path / "a/b/two.flac", tmp_path / "a/one.mp3", named]


def test_tag_command_on_a_library_with_a_broken_file(test_model_path, music_clips, tmp_path):
    library = tmp_path / "library"
    library.mkdir()
    for clip in music_clips:
        shutil.copy(clip, library)
    (library / "broken.mp3").write_bytes(b"ID3 this is not an mp3 at all")
    out = tmp_path / "tags.jsonl"
    result = run_cli(
        "tag", str(library), "--jobs", "2", "--jsonl", str(out), "--model", str(test_model_path), timeout=300
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    rows = {json.loads(line)["path"]: json.loads(line) for line in out.read_text().splitlines()}
    assert len(rows) == 3
    broken = rows.pop(str(library / "broken.mp3"))
    assert broken["genre"] is None and "not an audio file" in broken["error"]
    for row in rows.values():
        assert row["error"] is None and row["audio_seconds"] > 25
        assert sum(row["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
        assert row["genre"] == max(row["probabilities"], key=row["probabilities"].get)
    assert len([line for line in result.stdout.splitlines() if line.strip()]) == 3
    assert "tagged 2 files" in result.stderr and "1 failed, of 3" in result.stderr


def test_tag_command_with_nothing_to_tag(test_model_path, tmp_path):
    result = run_cli("tag", str(tmp_path), "--model", str(test_model_path))
    assert result.returncode == 2 and result.stderr.startswith("genrescope: error: no audio files")


def _blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info

    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_tagging_workers_keep_numpy_on_one_thread(test_model_path):
    """One tagging process per core: a worker's BLAS must not start a thread per core."""
    from concurrent.futures import ProcessPoolExecutor

    from genrescope.stream.tag.library import start_worker

    with ProcessPoolExecutor(1, initializer=start_worker, initargs=(test_model_path, True)) as pool:
        assert set(pool.submit(_blas_threads).result()) == {1}
