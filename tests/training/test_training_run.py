"""A real (tiny) training run on a miniature FMA download: checkpoints, resume, export."""

import argparse
import json
from dataclasses import replace

import pytest

from genrescope.model.session import GenreModel
from genrescope.training.genre.config import TrainConfig
from genrescope.training.genre.train import load_checkpoint_model, train
from test_training_data import write_fma_archive

TRACKS = [
    (2, "training", "small", "Hip-Hop"),
    (3, "training", "small", "Rock"),
    (4, "training", "small", "Folk"),
    (5, "training", "small", "Pop"),
    (6, "validation", "small", "Hip-Hop"),
    (7, "validation", "small", "Rock"),
    (8, "test", "small", "Folk"),
]


def test_train_resume_and_export(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # evaluate caches under ./runs/cache: the test's, not the repository's
    from genrescope.model.frontend.spec import FrontendSpec
    from genrescope.model.genre.card import ModelCard
    from genrescope.model.genre.export import export_genre_model
    from genrescope.training.genre.fma import GENRES

    write_fma_archive(tmp_path / "fma", TRACKS)
    config = TrainConfig(
        source="audio",
        fma_audio_root=str(tmp_path / "fma"),
        run_dir=str(tmp_path / "runs" / "t"),
        epochs=1,
        batch_size=2,
        pretrained=False,
        threads=1,
        crop_min_seconds=3,
        crop_max_seconds=4,
    )
    best = train(config)
    history = (tmp_path / "runs" / "t" / "history.jsonl").read_text().splitlines()
    assert len(history) == 1 and best.exists()

    config.epochs = 2  # the same command with more epochs resumes instead of starting over
    train(config)
    history = [json.loads(line) for line in (tmp_path / "runs" / "t" / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2]
    assert all(0.0 <= h["val_accuracy"] <= 1.0 for h in history)

    model, _ = load_checkpoint_model(best)
    card = ModelCard(labels=GENRES, frontend=FrontendSpec(), version="tiny-run")
    assert export_genre_model(model, card, tmp_path / "tiny.onnx") <= 1e-4
    assert GenreModel.load(tmp_path / "tiny.onnx").card.version == "tiny-run"

    # `genrescope export`: the run's own data (a user's FMA download here), int8, temperature.
    from genrescope.training.genre.release import run_export

    out = tmp_path / "tiny-int8.onnx"
    run_export(
        argparse.Namespace(
            checkpoint=best, out=out, data_root=None, version="tiny-int8", precision="int8", calibration_from=None
        )
    )
    shipped = GenreModel.load(out).card
    assert shipped.architecture["precision"] == "int8" and shipped.temperature > 0
    assert set(shipped.training["validation_accuracy_by_precision"]) == {"float32", "int8"}
    assert shipped.training["trained_on"] == "training (4 tracks)" and "(audio)" in shipped.training["data"]

    # `genrescope evaluate` on the same download: metrics, confusion matrix, metrics in the card.
    from genrescope.training.genre.evaluate import run_evaluate

    run_evaluate(
        argparse.Namespace(
            model=out,
            data_root=tmp_path,
            fma_audio_root=tmp_path / "fma",
            out_dir=tmp_path / "eval",
            threads=1,
            no_card=False,
        )
    )
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["test"]["clip_30s"]["n"] == 1 and metrics["data"] == "FMA-small (audio), official split"
    assert (tmp_path / "eval" / "confusion_test.png").stat().st_size > 0
    stored = GenreModel.load(out).card.metrics
    assert stored["test"]["clip_30s"]["accuracy"] == round(metrics["test"]["clip_30s"]["accuracy"], 4)

    # The final model learns from validation too: no epoch selected, the temperature and
    # clip method come from the evaluated export above, and evaluate scores test alone.
    from genrescope.training.settings import ConfigError

    final_config = replace(config, run_dir=str(tmp_path / "runs" / "final"), epochs=1, include_validation=True)
    final = train(final_config)
    assert json.loads((tmp_path / "runs" / "final" / "history.jsonl").read_text())["weights"] == "ema"
    final_out = tmp_path / "final.onnx"
    export = argparse.Namespace(
        checkpoint=final, out=final_out, data_root=None, version="tiny-final", precision="int8", calibration_from=None
    )
    with pytest.raises(ConfigError, match="--calibration-from"):
        run_export(export)
    run_export(argparse.Namespace(**{**vars(export), "calibration_from": out}))
    final_card = GenreModel.load(final_out).card
    assert final_card.temperature == GenreModel.load(out).card.temperature
    assert final_card.training["trained_on"] == "training + validation (6 tracks)"
    assert final_card.training["clip_method"] == metrics["clip_method_selected_on_validation"]
    assert "validation_accuracy_by_precision" not in final_card.training  # validation was learned from
    assert 0 <= final_card.training["validation_top1_agreement_int8_float32"] <= 1
    run_evaluate(
        argparse.Namespace(
            model=final_out,
            data_root=tmp_path,
            fma_audio_root=tmp_path / "fma",
            out_dir=tmp_path / "final-eval",
            threads=1,
            no_card=False,
        )
    )
    final_metrics = json.loads((tmp_path / "final-eval" / "metrics.json").read_text())
    assert "validation" not in final_metrics and final_metrics["test"]["clip_30s"]["n"] == 1
    assert set(GenreModel.load(final_out).card.metrics) == {"test"}

    # Comparing runs on validation: an ensemble of a run with itself scores as the run.
    from genrescope.training.genre.compare import compare

    twin = tmp_path / "twin.pt"
    twin.write_bytes(best.read_bytes())
    scores = compare([best, twin])
    assert len(scores) == 3 and len(set(scores.values())) == 1 and 0.0 <= scores[str(best)] <= 1.0
