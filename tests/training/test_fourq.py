"""The 4Q set and learning from it: the build from a real git copy with real MP3 blobs, the
genre-set mapping, the set loss and set scores, the bandwidth measures, and a real tiny
cross-validation on two domains."""

from __future__ import annotations

import argparse
import csv
import json
import logging
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from genrescope.model.frontend.frontend import first_band_above
from genrescope.model.frontend.spec import FrontendSpec
from genrescope.model.genre.crnn import CRNNConfig, GenreCRNN
from genrescope.training.genre.bandwidth import cut_at_drawn_bandwidth, measured_top_band
from genrescope.training.genre.cv import run_cv
from genrescope.training.genre.fma import GENRES
from genrescope.training.genre.fourq import METADATA_PATH, FourQSet, genre_set
from genrescope.training.genre.setscore import in_set, pooled_confidence, set_log_loss, set_report
from genrescope.training.genre.train import set_loss
from support import run_cli, write_tone
from test_training_data import write_fma_archive

SPEC = FrontendSpec()
SONGS = [  # song, artist, AllMusic genres, MP3 sample rate
    ("MT0001", "Artist A", "Pop/Rock", 32_000),
    ("MT0002", "Artist A", "Rap; Jazz", 22_050),
    ("MT0003", "Artist B", "Latin; Reggae", 32_000),
    ("MT0004", "Artist C", "Electronic", 44_100),
    ("MT0005", "Artist D", "Jazz; Blues", 32_000),  # maps to nothing: kept, never scored
    ("MT0006", "Artist E", "New Age", 22_050),
    ("MT0007", "Artist F", "Folk; Pop/Rock", 32_000),
    ("MT0008", "Artist G", "Avant-Garde", 32_000),
]


@pytest.mark.parametrize(
    "genres, expected",
    [
        ("Pop/Rock", ("Pop", "Rock")),
        ("Rap; Jazz", ("Hip-Hop",)),
        ("Latin; Reggae; International", ("International",)),
        ("Jazz; Blues; Stage & Screen", ()),
        ("New Age; Avant-Garde", ("Experimental", "Instrumental")),
    ],
)
def test_allmusic_genres_map_to_a_set_of_ours(genres, expected):
    assert genre_set(genres) == expected


def make_copy(root: Path, songs=SONGS) -> Path:
    """A git repository laid out like Famelgas/MULT_TP2, with real MP3 blobs (ffmpeg-encoded
    noise and tones at each song's sample rate, so their bandwidth is real)."""
    work = root / "repo"
    (work / "MER_audio_taffc_dataset").mkdir(parents=True)
    with open(work / METADATA_PATH, "w", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL)
        writer.writerow(["Song", "Artist", "Title", "Quadrant", "GenresStr"])
        for i, (song, artist, genres, rate) in enumerate(songs):
            quadrant = f"Q{i % 4 + 1}"
            writer.writerow([song, artist, f"title {i}", quadrant, genres])
            wav = root / f"{song}.wav"
            write_tone(wav, 4.0, rate=44_100, frequency=220.0 * (i + 1))
            folder = work / "MER_audio_taffc_dataset" / quadrant
            folder.mkdir(exist_ok=True)
            subprocess.run(
                [
                    "ffmpeg",
                    "-loglevel",
                    "error",
                    "-i",
                    str(wav),
                    "-af",
                    "anoisesrc=a=0.05:d=4[n];[0][n]amix",
                    "-ar",
                    str(rate),
                    "-b:a",
                    "64k",
                    str(folder / f"{song}.mp3"),
                ],
                check=False,
            )
            if not (folder / f"{song}.mp3").exists():  # older ffmpeg: encode the tone alone
                subprocess.run(
                    [
                        "ffmpeg",
                        "-loglevel",
                        "error",
                        "-i",
                        str(wav),
                        "-ar",
                        str(rate),
                        "-b:a",
                        "64k",
                        str(folder / f"{song}.mp3"),
                    ],
                    check=True,
                )
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"]):
        subprocess.run(["git", "-C", str(work), *args], check=True)
    return work / ".git"


def commit_of(git_dir: Path) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(git_dir), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, FourQSet]:
    from genrescope.training.genre.fourq import FourQCopy, build_fourq

    root = tmp_path_factory.mktemp("fourq")
    git_dir = make_copy(root)
    out = root / "fourq.npz"
    return out, build_fourq(FourQCopy(git_dir, commit_of(git_dir)), out, expected=len(SONGS))


def test_the_build_reads_real_blobs_and_keeps_sets_rates_and_bandwidth(built):
    out, _ = built
    loaded = FourQSet.load(out)
    assert list(loaded.songs) == [s[0] for s in SONGS]
    assert list(loaded.native_rate) == [s[3] for s in SONGS]
    assert loaded.labelled.tolist() == [True, True, True, True, False, True, True, True]
    assert [tuple(g for g, on in zip(GENRES, row, strict=True) if on) for row in loaded.sets][:2] == [
        ("Pop", "Rock"),
        ("Hip-Hop",),
    ]
    # A 22.05 kHz MP3 holds nothing above 11 kHz: those bands sit at (or next to) the floor.
    narrow = loaded.grids[1, 10:300]  # past the encoder's start-up transient
    assert narrow[:, first_band_above(11_025, SPEC) + 1 :].max() <= 1
    assert loaded.grids[3, :300, first_band_above(11_025, SPEC) + 2 :].max() > 1  # the 44.1 kHz one does
    assert 150 < loaded.frames[0] <= loaded.grids.shape[1]  # 4 s of audio: ≈345 frames, the rest floor padding


def test_a_copy_without_the_pinned_commit_or_lacking_clips_is_refused_in_one_line(tmp_path):
    from genrescope.training.genre.fourq import FourQCopy, FourQError, build_fourq

    git_dir = make_copy(tmp_path, SONGS[:2])
    result = run_cli("fourq-build", str(git_dir), "--out", str(tmp_path / "x.npz"))
    assert result.returncode == 2 and "not a git copy of Famelgas/MULT_TP2" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "x.npz").exists()
    with pytest.raises(FourQError, match="expected 900 songs with audio, found 2 rows"):
        build_fourq(FourQCopy(git_dir, commit_of(git_dir)), tmp_path / "x.npz")


def test_phase_images_shift_the_column_grid_by_whole_hops(built):
    _, fourq = built
    zero = fourq.phase_images(np.zeros(len(fourq.songs), int))
    three = fourq.phase_images(np.full(len(fourq.songs), 3))
    first = int(np.floor(0.5 * SPEC.frames_per_column))
    np.testing.assert_array_equal(zero[:, 0], fourq.grids[:, first])
    np.testing.assert_array_equal(three[:, 0], fourq.grids[:, first + 3])


def test_the_set_loss_is_minus_log_of_the_probability_inside_the_set():
    logits = torch.tensor([[2.0, 0.0, -1.0, 0.5, 0, 0, 0, 0], [0.0, 1.0, 3.0, 0, 0, 0, 0, 0]])
    sets = torch.zeros(2, 8, dtype=torch.bool)
    sets[0, [0, 3]] = True
    sets[1, 1] = True
    p = torch.softmax(logits, dim=1)
    expected = -(torch.log(p[0, 0] + p[0, 3]) + torch.log(p[1, 1])) / 2
    assert torch.isclose(set_loss(logits, sets), expected)
    assert np.isclose(set_log_loss(torch.log_softmax(logits, 1).numpy(), sets.numpy()), float(expected))


def test_always_rock_wins_set_accuracy_but_not_the_balanced_score():
    keys = [("Pop", "Rock")] * 6 + [("Hip-Hop",)] * 2 + [("Folk",)] * 2
    sets = np.array([[g in k for g in GENRES] for k in keys])
    rock = np.tile(np.eye(len(GENRES))[GENRES.index("Rock")] * 0.9 + 0.0125, (len(keys), 1))
    report = set_report(rock, sets)
    assert report["set_accuracy"] == 0.6
    assert report["balanced_set_accuracy"] == round(1 / 3, 4)  # Pop|Rock 100%, Hip-Hop 0%, Folk 0%
    assert report["per_set_recall"]["Hip-Hop"] == {"n": 2, "recall": 0.0}
    assert report["confusion"]["rows"] == ["Pop|Rock", "Hip-Hop", "Folk", "several genres"]
    assert report["answered"]["Rock"] == 10


def test_the_unsure_threshold_keeps_its_promise_in_both_domains():
    rng = np.random.default_rng(0)
    n = 400
    labels = rng.integers(0, 8, n)
    confident = rng.random(n) < 0.5
    logits = rng.normal(0, 1, (n, 8))
    logits[np.arange(n), labels] += np.where(confident, 5.0, 0.3)  # sure clips right, unsure ones mostly not
    sets = np.eye(8, dtype=bool)[labels]
    report = pooled_confidence(logits, labels, logits, sets)
    assert report["unsure_below"] is not None
    for domain in ("fma", "fourq"):
        assert report[domain]["right_when_sure"] >= 0.70
        assert report[domain]["right_when_sure"] > report[domain]["right_when_unsure"]
    assert in_set(np.eye(8)[[1]], sets[:1]).tolist() == [labels[0] == 1]


def test_bandwidth_is_measured_on_the_clips_and_cuts_floor_the_same_bands_for_both_sets(built):
    _, fourq = built
    tops = measured_top_band(fourq.grids, fourq.frames)
    rates = dict(zip(fourq.songs, fourq.native_rate, strict=True))
    narrow = [t for s, t in zip(fourq.songs, tops, strict=True) if rates[s] == 22_050]
    wide = [t for s, t in zip(fourq.songs, tops, strict=True) if rates[s] == 44_100]
    assert max(narrow) <= first_band_above(11_025, SPEC) + 1 < min(wide)  # the encoder's low-pass, measured
    rng = np.random.default_rng(0)
    x = np.zeros((6, 10, SPEC.n_mels), np.float32)
    cuts = cut_at_drawn_bandwidth(x, np.array([90, 100, 128]), -80.0, rng)
    for row, cut in enumerate(cuts):
        assert (x[row, :, cut:] == -80.0).all() and (x[row, :, :cut] == 0).all()
    own = np.zeros((2, 10, SPEC.n_mels), np.float32)
    assert cut_at_drawn_bandwidth(own, tops, -80.0, rng, own=np.array([100, 128])).tolist() == [100, 128]
    assert (own[1] == 0).all() and (own[0, :, 100:] == -80).all()  # a full-band clip keeps every band


def test_the_band_limited_network_ignores_what_lies_above_its_limit():
    torch.manual_seed(0)
    model = GenreCRNN(CRNNConfig(band_limit_hz=12_000.0)).eval()
    x = torch.rand(2, 20, SPEC.n_mels) * -60
    y = x.clone()
    y[..., first_band_above(12_000.0, SPEC) :] = 0.0  # loud air above 12 kHz
    with torch.no_grad():
        assert torch.allclose(model(x), model(y))
        assert not torch.allclose(GenreCRNN(CRNNConfig()).eval()(x), GenreCRNN(CRNNConfig()).eval()(y))


def test_cv_learns_from_both_domains_and_scores_each_out_of_fold(tmp_path, monkeypatch, built, caplog):
    """A real (tiny) CV on two domains: FMA audio folds and 4Q artist folds, the recipe
    learning from the other folds of both, the 4Q block in the summary and the record."""
    fourq_path, fourq = built
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.INFO)  # each fold's train.log records what it learned from
    tracks = [(i, "training" if i % 5 else "validation", "small", GENRES[i % 4]) for i in range(2, 22)]
    write_fma_archive(tmp_path / "fma", tracks)
    recipe = tmp_path / "both.yaml"
    recipe.write_text(
        f"source: audio\nfma_audio_root: {tmp_path / 'fma'}\nbatch_size: 4\npretrained: false\n"
        f"threads: 1\ncrop_min_seconds: 3\ncrop_max_seconds: 4\nfourq_share: 0.34\n"
        f"fourq_path: {fourq_path}\nmatch_bandwidth: true\nband_limit_hz: 12000\n"
    )
    args = argparse.Namespace(
        recipes=[str(recipe)],
        folds=2,
        epochs=1,
        seed=0,
        out=tmp_path / "cv",
        data_root=tmp_path / "data",
        threads=1,
        record=tmp_path / "metrics.json",
        ships="both",
        ensemble=None,
        only_folds=None,
    )
    assert run_cv(args) == 0
    summary = json.loads((tmp_path / "cv" / "summary.json").read_text())
    block = summary["out_of_fma"]
    assert block["clips"] == int(fourq.labelled.sum()) and set(block["recipes"]) == {"both"}
    report = block["recipes"]["both"]
    assert len(report["per_fold"]) == 2 and report["confidence"]["temperature"] > 0
    fold_of_song = json.loads((tmp_path / "cv" / "fourq_folds.json").read_text())["fold_of_track"]
    artist_of = dict(zip(fourq.songs, fourq.artists, strict=True))
    for artist in {artist_of[s] for s in fold_of_song}:  # whole artists per fold
        assert len({f for s, f in fold_of_song.items() if artist_of[s] == artist}) == 1
    for k in (0, 1):  # fold k learned from the 4Q clips of the other fold only
        log = (tmp_path / "cv" / "both" / f"fold{k}" / "train.log").read_text()
        assert f"4Q: {sum(f != k for f in fold_of_song.values())} labelled clips" in log
    recorded = json.loads((tmp_path / "metrics.json").read_text())
    assert recorded["out_of_fma"]["cv"]["recipes"]["both"] == report


def test_fourq_eval_scores_a_model_file_records_it_and_draws_the_confusion_figure(built, test_model_path, tmp_path):
    fourq_path, fourq = built
    record = tmp_path / "metrics.json"
    record.write_text(json.dumps({"cv": {"folds": 4}}))
    result = run_cli(
        "fourq-eval",
        "--model",
        str(test_model_path),
        "--fourq",
        str(fourq_path),
        "--record",
        str(record),
        "--figure",
        str(tmp_path / "confusion.png"),
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads(record.read_text())
    report = metrics["out_of_fma"]["previous_model"]
    assert metrics["cv"] == {"folds": 4}  # other blocks stay
    assert report["n"] == int(fourq.labelled.sum()) and sum(report["answered"].values()) == report["n"]
    assert 0 <= report["balanced_set_accuracy"] <= 1 and f"set accuracy {report['set_accuracy']:.1%}" in result.stdout
    assert (tmp_path / "confusion.png").stat().st_size > 10_000


def test_set_balanced_draws_give_every_single_genre_set_the_same_share(built):
    from genrescope.training.genre.augment import set_balanced_weights
    from genrescope.training.genre.setscore import SINGLE_GENRE_SETS, set_keys

    _, fourq = built
    labelled = fourq.rows(fourq.labelled)
    weights = set_balanced_weights(labelled)
    keys = np.array([k if k in SINGLE_GENRE_SETS else "several" for k in set_keys(labelled.sets)])
    shares = {k: weights[keys == k].sum() for k in set(keys)}
    assert np.isclose(sum(shares.values()), 1) and np.allclose(list(shares.values()), 1 / len(shares))
