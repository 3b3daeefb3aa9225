"""The beets plugin with real beets: a tiny library imported by `beet import`, then
`beet genrescope`, on import, and the model loaded only when the plugin runs."""

import os
import shutil
import subprocess
import sys

import mutagen
import pytest

from genrescope.stream.tag.batch_tagger import load_batch_tagger

pytest.importorskip("beets", reason="beets is not installed (pip install 'genrescope[beets]')")
pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")


def beet(home, *args):
    """`beet ARGS` as a real process with its own config folder (BEETSDIR), importing the
    genrescope under test (PYTHONPATH passed on, as a checkout's environment sets it)."""
    env = {"BEETSDIR": str(home), "PATH": "/usr/bin:/bin", "HOME": str(home)}
    env.update({name: os.environ[name] for name in ("PYTHONPATH",) if name in os.environ})
    return subprocess.run([sys.executable, "-m", "beets", *args], env=env, capture_output=True, text=True, timeout=300)


def make_home(tmp_path, model, auto=False):
    home = tmp_path / "beets"
    home.mkdir()
    (home / "config.yaml").write_text(
        f"directory: {tmp_path / 'music'}\nlibrary: {home / 'library.db'}\nplugins: genrescope\n"
        f"import:\n  copy: no\n  write: yes\n  autotag: no\n"
        f"genrescope:\n  auto: {'yes' if auto else 'no'}\n  min_confidence: 0.0\n  model: {model}\n"
    )
    return home


def make_songs(folder):
    """Two real MP3s with artist and title; the second already has a genre."""
    folder.mkdir()
    for name, frequency, genre in (("one", 330, None), ("two", 550, "Jazz")):
        extra = ["-metadata", f"genre={genre}"] if genre else []
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-f",
                "lavfi",
                "-i",
                f"sine=frequency={frequency}:duration=3",
                "-metadata",
                f"title={name}",
                "-metadata",
                "artist=Someone",
                *extra,
                str(folder / f"{name}.mp3"),
            ],
            check=True,
        )
    return folder


def listing(home):
    result = beet(home, "ls", "-f", "$title|$genres|$genrescope_genre|$genrescope_confidence|$genrescope_model")
    assert result.returncode == 0, result.stderr
    return {line.split("|")[0]: line.split("|")[1:] for line in result.stdout.splitlines()}


def test_beet_genrescope_sets_genres_and_custom_fields(test_model_path, tmp_path):
    home, songs = make_home(tmp_path, test_model_path), make_songs(tmp_path / "in")
    assert beet(home, "import", "-q", str(songs)).returncode == 0
    assert listing(home)["one"][3] == "$genrescope_model"  # not on import unless auto
    (songs / "one.mp3").chmod(0o640)
    before = (songs / "one.mp3").stat()
    result = beet(home, "genrescope")
    assert result.returncode == 0, result.stderr
    rows = listing(home)
    expected = load_batch_tagger(test_model_path).tag(songs / "one.mp3")
    genres, top, confidence, model = rows["one"]
    assert top == expected.genre and model == "test-random-weights"
    assert float(confidence) == pytest.approx(max(expected.probabilities.values()), abs=1e-3)
    assert genres.split("; ")[0] == expected.genre and len(genres.split("; ")) == 8  # min_confidence 0
    assert mutagen.File(str(songs / "one.mp3")).tags["TCON"].text[0] == expected.genre  # written to the file
    after = (songs / "one.mp3").stat()  # by a copy that replaced it (all-or-nothing), keeping its mode
    assert after.st_ino != before.st_ino and after.st_mode == before.st_mode
    assert not [p for p in songs.iterdir() if p.name.startswith(".")]  # no copy left behind
    assert rows["two"][0] == "Jazz"  # kept without --force
    assert beet(home, "genrescope", "-f", "-c", "0.99", "title:two").returncode == 0
    assert listing(home)["two"][0] == "Jazz"  # forced, but no genre reaches 0.99: nothing to set
    assert beet(home, "genrescope", "-f", "title:two").returncode == 0
    assert listing(home)["two"][0].split("; ")[0] == listing(home)["two"][1]


def test_on_import_and_no_model_until_it_runs(test_model_path, tmp_path):
    lazy = make_home(tmp_path, tmp_path / "no-such-model.onnx")
    assert beet(lazy, "ls").returncode == 0  # the plugin is loaded; its model is not
    shutil.rmtree(lazy)
    home, songs = make_home(tmp_path, test_model_path, auto=True), make_songs(tmp_path / "in")
    result = beet(home, "import", "-q", str(songs))
    assert result.returncode == 0, result.stderr
    rows = listing(home)
    assert rows["one"][3] == "test-random-weights" and rows["two"][3] == "test-random-weights"
    assert rows["two"][0] == "Jazz"


@pytest.mark.parametrize(
    ("setting", "arguments", "said"),
    [
        ("auto: maybe", (), "genrescope.auto: must be a bool"),
        ("min_confidence: high", (), "genrescope.min_confidence: must be numeric"),
        ("min_confidence: 7", (), "genrescope.min_confidence: must be a probability from 0 to 1, got 7"),
        ("model: [1, 2]", (), "genrescope.model: must be a string"),
        ("force: no", ("-c", "3"), "--min-confidence: must be a probability from 0 to 1, got 3.0"),
    ],
)
def test_a_wrong_setting_is_one_line(setting, arguments, said, tmp_path):
    """A wrong value in beets' config (or -c) is one line from beets and changes nothing;
    `auto: maybe` was a traceback of beets' plugin loader, 7 was taken (no genre reaches it)."""
    home = tmp_path / "beets"
    home.mkdir()
    config = f"library: {home / 'library.db'}\nplugins: genrescope\ngenrescope:\n  {setting}\n"
    (home / "config.yaml").write_text(config)
    result = beet(home, "genrescope", *arguments)
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert said in result.stderr and "Traceback" not in result.stderr
