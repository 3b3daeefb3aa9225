"""``genrescope cv``: rank training recipes by artist-grouped K-fold cross-validation.

The 800-clip validation split holds few artists (±10 points by artist bootstrap), too
few to rank recipes 2–3 points apart. Cross-validation pools training + validation
(≈2,150 artists, 7,194 clips), cuts it into K folds of whole artists, balanced by genre
(scikit-learn's StratifiedGroupKFold), and trains every recipe K times, each time
holding one fold out. The folds are drawn once and stored (``folds.json``), so every
recipe, today's and tomorrow's, is scored on the same folds. The test split is never
read.

A fold's score is the held-out accuracy of the **last** epoch's raw weights: a fixed
rule, so nothing is selected on the fold that scores it. (Raw, not the weight average:
the cosine schedule has brought the learning rate to zero by then, while the average's
≈500-step horizon still carries warm-up weights in a short CV run.) Every fold run is an ordinary
resumable training run (``<out>/<recipe>/fold<k>/``, with its own ``train.log``);
re-running the command skips finished folds and resumes the unfinished one.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from genrescope.model.frontend.spec import FrontendSpec
from genrescope.stream.outputs import write_text_whole, written_whole
from genrescope.training.genre.config import TrainConfig
from genrescope.training.genre.fma import GENRES, FeatureSet, load_features
from genrescope.training.genre.fourq import FourQSet
from genrescope.training.genre.records import read_record, write_record
from genrescope.training.settings import ConfigError

log = logging.getLogger(__name__)
RECIPES_DIR = Path(__file__).resolve().parents[1] / "recipes"
POOLED_SPLITS = ("training", "validation")


def artist_folds(labels: np.ndarray, artists: np.ndarray, k: int, seed: int) -> np.ndarray:
    """The fold (0 … k−1) of every row: whole artists per fold, ``labels`` balanced."""
    from sklearn.model_selection import StratifiedGroupKFold

    fold = np.full(len(labels), -1)
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    for index, (_, held_out) in enumerate(splitter.split(labels, labels, artists)):
        fold[held_out] = index
    return fold


def stored_folds(path: Path, ids: np.ndarray, labels: np.ndarray, artists: np.ndarray, k: int, seed: int) -> np.ndarray:
    """The folds recorded in ``path`` for the rows named ``ids`` (drawn and written on first
    use); a record made for other rows or another K is refused rather than silently redrawn."""
    if not path.exists():
        fold = artist_folds(labels, artists, k, seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_whole(
            path,
            json.dumps(
                {"k": k, "seed": seed, "fold_of_track": {str(t): int(f) for t, f in zip(ids, fold, strict=True)}}
            ),
        )
        return fold
    record = json.loads(path.read_text())
    by_track = record["fold_of_track"]
    if record["k"] != k or set(by_track) != {str(t) for t in ids}:
        raise ValueError(f"{path} holds {record['k']} folds of other tracks; use another --out")
    return np.array([by_track[str(t)] for t in ids])


@dataclass
class FourQFolds:
    """The labelled 4Q clips and their artist folds, drawn and stored like FMA's."""

    clips: FourQSet
    fold: np.ndarray

    @classmethod
    def stored(cls, fourq: FourQSet, path: Path, k: int, seed: int) -> FourQFolds:
        """Folds of whole artists, the single-genre sets balanced (clips of several genres, and sets
        too rare to reach every fold, as one class)."""
        from genrescope.training.genre.setscore import SINGLE_GENRE_SETS, set_keys

        clips = fourq.rows(fourq.labelled)
        keys = set_keys(clips.sets)
        names, counts = np.unique(keys, return_counts=True)
        common = set(names[counts >= k]) & set(SINGLE_GENRE_SETS)
        strata = np.array([key if key in common else "other" for key in keys])
        return cls(clips, stored_folds(path, clips.songs, strata, clips.artists, k, seed))


def pooled_tracks(features: FeatureSet) -> FeatureSet:
    """Training + validation: the clips cross-validation may use (never test)."""
    return features.rows(np.isin(features.splits, POOLED_SPLITS))


def fold_score(run_dir: Path) -> dict:
    """A finished fold run's held-out accuracy: the last epoch, raw weights (EMA beside it)."""
    last = json.loads((run_dir / "history.jsonl").read_text().splitlines()[-1])
    return {"accuracy": last["val_accuracy_raw"], "accuracy_ema": last["val_accuracy_ema"], "epochs": last["epoch"]}


def run_fold(
    config: TrainConfig, data: FeatureSet, fold: np.ndarray, k: int, fourq: FourQFolds | None = None
) -> tuple[dict, np.ndarray, np.ndarray | None]:
    """Train one recipe with fold ``k`` held out (resuming); its score and held-out logits,
    on FMA and, with ``fourq``, on the fold's held-out 4Q clips (whose other folds the
    recipe learns from when it uses 4Q at all)."""
    run_dir = Path(config.run_dir)
    result = run_dir / "result.json"  # written when the fold run has finished
    if not result.exists():
        _train_fold(config, data, fold, k, None if fourq is None else fourq.clips.rows(fourq.fold != k))
    score = {"fold": k, "held_out_tracks": int((fold == k).sum()), **fold_score(run_dir)}
    write_text_whole(result, json.dumps(score))
    fourq_logits = None
    if fourq is not None:
        held_out = fourq.clips.rows(fourq.fold == k)
        fourq_logits = held_out_logits(
            config, held_out.phase_images(np.zeros(len(held_out.songs), int)), "fourq_held_out_logits.npy"
        )
    return score, held_out_logits(config, data.images[fold == k]), fourq_logits


def held_out_logits(config: TrainConfig, images: np.ndarray, name: str = "held_out_logits.npy") -> np.ndarray:
    """A finished fold's logits on its held-out clips with the weights its score counts
    (the last epoch's raw ones), kept beside the run as ``name``: the recipe's calibration
    reads them."""
    path = Path(config.run_dir) / name
    if path.exists():
        return np.load(path)
    from genrescope.training.genre.train import checkpoint_clip_logits, resolve_device

    logits = checkpoint_clip_logits(
        Path(config.run_dir) / "last.pt", images, resolve_device(config.device), FrontendSpec().floor_db
    )
    with written_whole(path, "wb") as out:
        np.save(out, logits)
    return logits


def held_out_scores(logits: np.ndarray, labels: np.ndarray, fold: np.ndarray, epochs: int) -> list[dict]:
    """Each fold's accuracy from out-of-fold logits, in the form ``summarise`` reads."""
    return [
        {"accuracy": float((logits[fold == k].argmax(1) == labels[fold == k]).mean()), "epochs": epochs}
        for k in np.unique(fold)
    ]


def ensemble_log_probabilities(logits: list[np.ndarray]) -> np.ndarray:
    """Log of the mean probability over models: a seed (or recipe) ensemble's logits,
    scored and calibrated like one recipe's."""
    from genrescope.model.session import softmax

    return np.log(np.mean([softmax(each) for each in logits], axis=0))


def out_of_fold_calibration(logits: np.ndarray, labels: np.ndarray, fold: np.ndarray) -> dict:
    """How a recipe's probabilities hold up on new artists: the temperature fitted on all
    out-of-fold clips, and the ECE raw and cross-fitted (each fold scaled by the temperature
    fitted on the others, so that no clip grades a temperature it helped fit)."""
    from genrescope.model.session import softmax
    from genrescope.training.genre.evaluate import expected_calibration_error
    from genrescope.training.genre.release import fit_temperature

    scaled = np.empty_like(logits)
    for k in np.unique(fold):
        scaled[fold == k] = logits[fold == k] / fit_temperature(logits[fold != k], labels[fold != k])
    return {
        "temperature": round(fit_temperature(logits, labels), 4),
        "ece_raw": round(expected_calibration_error(softmax(logits), labels), 4),
        "ece_cross_fitted": round(expected_calibration_error(softmax(scaled), labels), 4),
    }


def _train_fold(config: TrainConfig, data: FeatureSet, fold: np.ndarray, k: int, fourq: FourQSet | None) -> None:
    """The fold's training run, logged to its own ``train.log`` as well."""
    from genrescope.training.genre.train import fit

    run_dir = Path(config.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(run_dir / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logging.getLogger().addHandler(handler)
    try:
        fit(config, data.rows(fold != k), data.rows(fold == k), fourq)
    finally:
        logging.getLogger().removeHandler(handler)


def summarise(scores: dict[str, list[dict]]) -> dict:
    """Mean ± sd and per-fold accuracy of each recipe, plus each recipe's per-fold
    difference to the first (the folds are shared, so differences are paired)."""
    summary = {}
    first = next(iter(scores.values()))
    for name, folds in scores.items():
        accuracy = np.array([f["accuracy"] for f in folds])
        entry = {
            "mean": round(float(accuracy.mean()), 4),
            "sd": round(float(accuracy.std(ddof=1)), 4) if len(accuracy) > 1 else 0.0,
            "per_fold": [round(float(a), 4) for a in accuracy],
            "epochs": folds[0]["epochs"],
        }
        if folds is not first and len(folds) == len(first):
            gain = accuracy - np.array([f["accuracy"] for f in first])
            entry["paired_gain_over_first"] = {
                "mean": round(float(gain.mean()), 4),
                "per_fold": [round(float(g), 4) for g in gain],
            }
        summary[name] = entry
    return summary


def recipe_config(path: Path, out: Path, fold: int, epochs: int | None, data_root: Path | None) -> TrainConfig:
    """A recipe's run for one fold; its ensemble teachers' ``{cv}`` and ``{fold}`` name that
    fold's runs of other recipes, trained on exactly the same clips."""
    config = TrainConfig.from_yaml(path)
    teachers = tuple(t.format(cv=out, fold=fold) for t in config.ensemble_teachers)
    config = replace(config, run_dir=str(out / path.stem / f"fold{fold}"), ensemble_teachers=teachers)
    if epochs is not None:
        config = replace(config, epochs=epochs)
    return config if data_root is None else replace(config, data_root=str(data_root))


def run_cv(args: argparse.Namespace) -> int:
    """``genrescope cv``: every recipe on every fold, then the table and ``summary.json``."""
    recipes = [Path(r) for r in args.recipes] or sorted(RECIPES_DIR.glob("*.yaml"))
    unknown = set(args.ensemble or ()) - {recipe.stem for recipe in recipes}
    if unknown:
        raise ConfigError(f"--ensemble names recipes not in this run: {', '.join(sorted(unknown))}")
    first = recipe_config(recipes[0], args.out, 0, args.epochs, args.data_root)
    data = pooled_tracks(load_features(first))
    fold = stored_folds(args.out / "folds.json", data.track_ids, data.labels, data.artists, args.folds, args.seed)
    fourq = _fourq_folds(recipes, first, args)
    scores: dict[str, list[dict]] = {}
    logits = {recipe.stem: np.zeros((len(fold), len(GENRES)), np.float32) for recipe in recipes}
    fourq_logits = {
        recipe.stem: np.zeros((0 if fourq is None else len(fourq.fold), len(GENRES)), np.float32) for recipe in recipes
    }
    total, done = len(recipes) * args.folds, 0
    for k in range(args.folds):  # fold by fold, so that partial results already pair up
        if args.only_folds and k not in args.only_folds:
            continue
        for recipe in recipes:
            done += 1
            log.info(
                "cv [%d/%d]: recipe %s, fold %d held out (%d tracks)",
                done,
                total,
                recipe.stem,
                k,
                int((fold == k).sum()),
            )
            config = recipe_config(recipe, args.out, k, args.epochs, args.data_root)
            config = replace(config, validate_every=config.epochs, threads=args.threads)
            score, logits[recipe.stem][fold == k], held_out_fourq = run_fold(config, data, fold, k, fourq)
            if fourq is not None:
                fourq_logits[recipe.stem][fourq.fold == k] = held_out_fourq
            scores.setdefault(recipe.stem, []).append(score)
    if args.only_folds:
        log.info("trained folds %s only: run again without --only-folds to summarise", args.only_folds)
        return 0
    if args.ensemble:
        name = "+".join(args.ensemble)
        logits[name] = ensemble_log_probabilities([logits[member] for member in args.ensemble])
        fourq_logits[name] = ensemble_log_probabilities([fourq_logits[member] for member in args.ensemble])
        scores[name] = held_out_scores(logits[name], data.labels, fold, scores[args.ensemble[0]][0]["epochs"])
    recipes_summary = summarise(scores)
    for name, entry in recipes_summary.items():
        entry["calibration"] = out_of_fold_calibration(logits[name], data.labels, fold)
    summary = {
        "folds": args.folds,
        "fold_seed": args.seed,
        "pooled": "training + validation",
        "tracks": len(data.labels),
        "artists": len(np.unique(data.artists)),
        "score": "held-out clip accuracy of the last epoch's raw weights (whole 30 s clips)",
        "recipes": recipes_summary,
    }
    if fourq is not None:
        summary["out_of_fma"] = out_of_fma_summary(fourq, fourq_logits, logits, data.labels, args.folds)
    write_text_whole(args.out / "summary.json", json.dumps(summary, indent=1))
    if args.record:
        record_cv(args.record, summary, args.ships)
    for name, entry in summary["recipes"].items():
        calibration = entry["calibration"]
        print(
            f"{name:>16}: {entry['mean']:.1%} ± {entry['sd']:.1%}  folds "
            + " ".join(f"{a:.1%}" for a in entry["per_fold"])
            + f"  temperature {calibration['temperature']:.2f}, ECE {calibration['ece_raw']:.3f} raw, "
            f"{calibration['ece_cross_fitted']:.3f} cross-fitted"
        )
    return 0


def _fourq_folds(recipes: list[Path], first: TrainConfig, args: argparse.Namespace) -> FourQFolds | None:
    """The 4Q clips and folds when the set is built (every recipe is scored on it; the ones
    with ``fourq_share`` also learn from its other folds), else None with a note; a recipe
    that learns from 4Q without the set built is an error."""
    path = first.resolved_fourq_path
    learns = [r.stem for r in recipes if TrainConfig.from_yaml(r).fourq_share > 0]
    if not path.exists():
        if learns:
            FourQSet.load(path)  # raises with the command that builds it
        log.info("no 4Q set at %s: scoring FMA only (build it with genrescope fourq-build)", path)
        return None
    return FourQFolds.stored(FourQSet.load(path), args.out / "fourq_folds.json", args.folds, args.seed)


def out_of_fma_summary(
    fourq: FourQFolds,
    fourq_logits: dict[str, np.ndarray],
    fma_logits: dict[str, np.ndarray],
    fma_labels: np.ndarray,
    folds: int,
) -> dict:
    """Each recipe's out-of-fold 4Q report, and its unsure threshold chosen on both domains."""
    from genrescope.model.session import softmax
    from genrescope.training.genre.setscore import pooled_confidence, set_report

    recipes = {}
    for name, logits in fourq_logits.items():
        report = set_report(softmax(logits), fourq.clips.sets, fourq.fold)
        report["confidence"] = pooled_confidence(fma_logits[name], fma_labels, logits, fourq.clips.sets)
        recipes[name] = report
    return {
        "data": "4Q (Panda et al. 2018), labelled clips, artist-grouped folds",
        "folds": folds,
        "clips": len(fourq.fold),
        "artists": len(np.unique(fourq.clips.artists)),
        "score": "out-of-fold whole-clip logits of the last epoch's raw weights",
        "recipes": recipes,
    }


def record_cv(metrics_path: Path, summary: dict, ships: str | None) -> None:
    """Merge the summary into a metrics file's ``cv`` block (``genrescope evaluate`` keeps
    it): recipes already recorded on the same folds stay, the ones scored now replace or
    join them; the 4Q reports go to the ``out_of_fma`` block's ``cv``."""
    metrics = read_record(metrics_path)
    recorded = metrics.get("cv", {})
    same_folds = (recorded.get("folds"), recorded.get("fold_seed")) == (summary["folds"], summary["fold_seed"])
    recipes = {**(recorded.get("recipes", {}) if same_folds else {}), **summary["recipes"]}
    out_of_fma = summary.pop("out_of_fma", None)
    metrics["cv"] = {**summary, "recipes": recipes, "shipped_recipe": ships}
    if out_of_fma is not None:
        block = metrics.setdefault("out_of_fma", {})
        block["cv"] = {**out_of_fma, "recipes": {**block.get("cv", {}).get("recipes", {}), **out_of_fma["recipes"]}}
    write_record(metrics_path, metrics)
