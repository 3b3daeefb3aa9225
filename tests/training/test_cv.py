"""Cross-validation folds, the out-of-fold VGGish teacher, and a real run with the side signal."""

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from genrescope.training.genre.config import TrainConfig
from genrescope.training.genre.cv import artist_folds, run_cv, stored_folds, summarise
from genrescope.training.genre.fma import GENRES, FeatureSet
from genrescope.training.genre.teacher import (
    EMBEDDING_FILE,
    SideTargets,
    load_embeddings,
    out_of_fold_teacher,
    standardise,
)
from genrescope.training.genre.train import batch_loss, build_model, clip_logits, ensemble_probabilities
from genrescope.training.settings import ConfigError
from test_training_data import write_fma_archive


def pooled_set(artists: int = 40, tracks_per_artist: int = 3, seed: int = 0) -> FeatureSet:
    """Artists with a few tracks each, one genre per artist, genres cycling."""
    rng = np.random.default_rng(seed)
    artist = np.repeat(np.arange(artists), tracks_per_artist)
    labels = artist % len(GENRES)
    n = len(labels)
    return FeatureSet(
        images=rng.integers(0, 256, (n, 8, 8), dtype=np.uint8),
        labels=labels,
        splits=np.full(n, "training"),
        track_ids=np.arange(1000, 1000 + n),
        artists=np.array([f"a{a}" for a in artist]),
    )


def _rows(data: FeatureSet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What stored_folds reads of a set: the row ids, the labels to balance, the artists."""
    return data.track_ids, data.labels, data.artists


def test_each_artist_lands_in_exactly_one_fold_and_genres_stay_balanced():
    data = pooled_set()
    fold = artist_folds(data.labels, data.artists, k=4, seed=0)
    assert set(fold.tolist()) == {0, 1, 2, 3}
    for name in np.unique(data.artists):
        assert len(set(fold[data.artists == name].tolist())) == 1
    per_fold_genres = [len(set(data.labels[fold == k].tolist())) for k in range(4)]
    assert min(per_fold_genres) >= len(GENRES) - 1  # stratified: (nearly) every genre in every fold


def test_folds_are_drawn_once_and_reused_and_a_foreign_record_is_refused(tmp_path):
    data = pooled_set()
    first = stored_folds(tmp_path / "folds.json", *_rows(data), 4, seed=0)
    again = stored_folds(tmp_path / "folds.json", *_rows(data), 4, seed=123)  # the record wins over a new seed
    np.testing.assert_array_equal(first, again)
    with pytest.raises(ValueError, match="other tracks"):
        stored_folds(tmp_path / "folds.json", *_rows(pooled_set(artists=41)), 4, seed=0)


def test_the_teacher_never_grades_an_artist_it_was_fitted_on():
    # Each artist's embedding is its own one-hot signature and its genre is random:
    # a teacher that had seen the artist would name the genre, one that had not can only guess.
    rng = np.random.default_rng(1)
    artists = np.repeat(np.arange(80), 3)
    genre_of_artist = rng.integers(0, 4, 80)
    labels = genre_of_artist[artists]
    embeddings = np.eye(80, dtype=np.float32)[artists] * 10 + rng.normal(0, 0.01, (len(artists), 80))
    in_sample = out_of_fold_teacher(embeddings, labels, artists.astype(str), 4, folds=5, c=100.0)
    assert in_sample.shape == (240, 4) and np.allclose(in_sample.sum(1), 1, atol=1e-5)
    out_of_fold_accuracy = (in_sample.argmax(1) == labels).mean()
    from sklearn.linear_model import LogisticRegression

    memorised = LogisticRegression(C=100.0, max_iter=2000).fit(embeddings, labels).score(embeddings, labels)
    assert memorised > 0.95 and out_of_fold_accuracy < 0.45


def test_embeddings_are_read_by_track_and_standardised_on_the_given_clips(tmp_path):
    np.savez(
        tmp_path / EMBEDDING_FILE,
        track_id=np.array([5, 7, 9], np.int32),
        embedding=np.array([[1, 2], [3, 4], [5, 6]], np.float32),
    )
    np.testing.assert_array_equal(load_embeddings(tmp_path / EMBEDDING_FILE, np.array([9, 5])), [[5, 6], [1, 2]])
    with pytest.raises(ValueError, match="no embedding for 1 tracks"):
        load_embeddings(tmp_path / EMBEDDING_FILE, np.array([5, 6]))
    z = standardise(np.array([[1.0, 5.0], [3.0, 5.0]], np.float32))
    np.testing.assert_allclose(z, [[-1, 0], [1, 0]])


def test_side_targets_add_distillation_and_embedding_losses_that_reach_the_model():
    torch.manual_seed(0)
    config = TrainConfig(pretrained=False, distill_weight=0.5, embedding_weight=0.5)
    model = build_model(config)
    head = torch.nn.Linear(model.pooled_width, 4)
    x = torch.full((2, 16, 128), -40.0) + torch.randn(2, 16, 128)
    y = torch.nn.functional.one_hot(torch.tensor([1, 2]), len(GENRES)).float()
    teacher = torch.softmax(torch.randn(2, len(GENRES)), 1)
    side = torch.from_numpy(SideTargets(teacher.numpy(), torch.randn(2, 4).numpy()).stacked())
    plain = batch_loss(model, None, x, y, None, config)
    full = batch_loss(model, head, x, y, side, config)
    assert full > plain
    full.backward()
    assert head.weight.grad.abs().sum() > 0 and model.cnn.stem[0].weight.grad.abs().sum() > 0


def test_the_ensemble_term_distils_the_ensemble_columns_only_when_weighted():
    torch.manual_seed(0)
    model = build_model(TrainConfig(pretrained=False)).eval()
    x = torch.full((2, 16, 128), -40.0) + torch.randn(2, 16, 128)
    y = torch.nn.functional.one_hot(torch.tensor([1, 2]), len(GENRES)).float()
    teacher = np.full((2, len(GENRES)), 1 / len(GENRES), np.float32)
    ensemble = np.random.default_rng(0).dirichlet(np.ones(len(GENRES)), 2).astype(np.float32)
    side = torch.from_numpy(SideTargets(teacher, np.zeros((2, 4), np.float32), ensemble).stacked())
    off = TrainConfig(pretrained=False, ensemble_weight=0.0)
    on = TrainConfig(pretrained=False, ensemble_weight=1.0, ensemble_teachers=("a.pt",))
    with torch.no_grad():
        assert torch.isclose(batch_loss(model, None, x, y, side, off), batch_loss(model, None, x, y, None, off))
        t = on.distill_temperature
        softened = torch.from_numpy(ensemble) ** (1 / t)
        softened = softened / softened.sum(1, keepdim=True)
        distilled = -(softened * torch.log_softmax(model(x) / t, 1)).sum(1).mean()
        expected = batch_loss(model, None, x, y, None, off) + t * t * distilled
        torch.testing.assert_close(batch_loss(model, None, x, y, side, on), expected)
    with pytest.raises(ConfigError, match="needs ensemble_teachers"):
        TrainConfig(ensemble_weight=1.0)


def test_ensemble_probabilities_average_the_teachers_and_name_a_missing_one(tmp_path):
    torch.manual_seed(0)
    images = np.random.default_rng(0).integers(0, 256, (3, 16, 128), dtype=np.uint8)
    paths, expected = [], []
    for seed in (1, 2):
        torch.manual_seed(seed)
        model = build_model(TrainConfig(pretrained=False))
        torch.save({"model": model.state_dict()}, tmp_path / f"teacher{seed}.pt")
        paths.append(str(tmp_path / f"teacher{seed}.pt"))
        expected.append(torch.softmax(torch.from_numpy(clip_logits(model, images, torch.device("cpu"), -80.0)), 1))
    averaged = ensemble_probabilities(tuple(paths), images, torch.device("cpu"), -80.0)
    np.testing.assert_allclose(averaged, torch.stack(expected).mean(0).numpy(), atol=1e-6)
    with pytest.raises(FileNotFoundError, match="filled in by genrescope cv only"):
        ensemble_probabilities(("runs/cv/x/fold{fold}/last.pt",), images, torch.device("cpu"), -80.0)


def test_cv_runs_recipes_on_shared_folds_with_the_side_signal(tmp_path, monkeypatch):
    """A real (tiny) CV: two recipes, two folds of whole artists, VGGish targets read from disk."""
    monkeypatch.chdir(tmp_path)
    tracks = [(i, "training" if i % 5 else "validation", "small", GENRES[i % 4]) for i in range(2, 22)]
    write_fma_archive(tmp_path / "fma", tracks)
    _one_artist_per_track(tmp_path / "fma" / "fma_metadata" / "tracks.csv")
    (tmp_path / "data" / "fma_small").mkdir(parents=True)
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "data" / "fma_small" / EMBEDDING_FILE,
        track_id=np.arange(2, 22, dtype=np.int32),
        embedding=rng.normal(size=(20, 128)).astype(np.float32),
    )
    recipes = []
    student = 'ensemble_weight: 0.5\nensemble_teachers: ["{cv}/plain/fold{fold}/last.pt"]\n'
    for name, extra in (("plain", ""), ("side", "distill_weight: 0.5\nembedding_weight: 0.5\n"), ("student", student)):
        path = tmp_path / f"{name}.yaml"
        path.write_text(
            f"source: audio\nfma_audio_root: {tmp_path / 'fma'}\nbatch_size: 4\npretrained: false\n"
            f"threads: 1\ncrop_min_seconds: 3\ncrop_max_seconds: 4\n{extra}"
        )
        recipes.append(str(path))
    args = argparse.Namespace(
        recipes=recipes,
        folds=2,
        epochs=1,
        seed=0,
        out=tmp_path / "cv",
        data_root=tmp_path / "data",
        threads=1,
        record=tmp_path / "metrics.json",
        ships="side",
        ensemble=["plain", "side"],
        only_folds=None,
    )
    assert run_cv(args) == 0
    summary = json.loads((tmp_path / "cv" / "summary.json").read_text())
    assert summary["tracks"] == 20 and summary["artists"] == 20 and summary["folds"] == 2
    assert set(summary["recipes"]) == {"plain", "side", "student", "plain+side"}  # plain+side: averaged
    assert len(summary["recipes"]["plain+side"]["per_fold"]) == 2 and summary["recipes"]["plain+side"]["calibration"]
    assert len(summary["recipes"]["side"]["per_fold"]) == 2 and "paired_gain_over_first" in summary["recipes"]["side"]
    calibration = summary["recipes"]["side"]["calibration"]
    assert calibration["temperature"] > 0 and 0 <= calibration["ece_cross_fitted"] <= 1
    held_out = np.load(tmp_path / "cv" / "side" / "fold0" / "held_out_logits.npy")
    fold_of_track = json.loads((tmp_path / "cv" / "folds.json").read_text())["fold_of_track"]
    assert held_out.shape == (list(fold_of_track.values()).count(0), len(GENRES))
    recorded = json.loads((tmp_path / "metrics.json").read_text())["cv"]
    assert recorded["shipped_recipe"] == "side" and recorded["recipes"] == summary["recipes"]
    # The exported model is the genre network alone: the embedding head stays in the resume point.
    best = torch.load(tmp_path / "cv" / "side" / "fold0" / "best.pt", weights_only=False)
    assert not any(key.startswith("embedding") for key in best["model"])
    resume = torch.load(tmp_path / "cv" / "side" / "fold0" / "last.pt", weights_only=False)
    assert resume["embedding_head"]["weight"].shape == (128, 256)
    # The student distilled, per fold, the plain run trained on exactly its clips.
    for k in (0, 1):
        recorded_config = TrainConfig.from_yaml(tmp_path / "cv" / "student" / f"fold{k}" / "config.yaml")
        assert recorded_config.ensemble_teachers == (str(tmp_path / "cv" / "plain" / f"fold{k}" / "last.pt"),)
    assert run_cv(args) == 0  # a re-run finds every fold done and trains nothing
    assert len((tmp_path / "cv" / "side" / "fold0" / "history.jsonl").read_text().splitlines()) == 1


def _one_artist_per_track(csv_path: Path) -> None:
    rows = list(csv.reader(csv_path.read_text().splitlines()))
    artist_column = rows[1].index("id")
    for row in rows[3:]:
        row[artist_column] = str(1000 + int(row[0]))
    with open(csv_path, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)


def test_summary_pairs_each_recipe_with_the_first():
    scores = {
        "a": [{"accuracy": 0.5, "epochs": 6}, {"accuracy": 0.6, "epochs": 6}],
        "b": [{"accuracy": 0.55, "epochs": 6}, {"accuracy": 0.62, "epochs": 6}],
    }
    summary = summarise(scores)
    assert summary["a"]["mean"] == 0.55 and "paired_gain_over_first" not in summary["a"]
    assert summary["b"]["paired_gain_over_first"]["per_fold"] == [0.05, 0.02]


def test_an_ensemble_averages_probabilities_not_logits():
    from genrescope.training.genre.cv import ensemble_log_probabilities

    sure_a = np.log([[0.9, 0.1]])
    sure_b = np.log([[0.2, 0.8]])
    np.testing.assert_allclose(np.exp(ensemble_log_probabilities([sure_a, sure_b])), [[0.55, 0.45]])


def test_an_ensemble_of_recipes_not_in_the_run_is_refused_before_any_work(tmp_path):
    from genrescope.training.settings import ConfigError

    args = argparse.Namespace(
        recipes=[str(tmp_path / "plain.yaml")],
        folds=2,
        epochs=1,
        seed=0,
        out=tmp_path / "cv",
        data_root=None,
        threads=1,
        record=None,
        ships=None,
        ensemble=["plain", "other"],
        only_folds=None,
    )
    with pytest.raises(ConfigError, match="other"):
        run_cv(args)
