"""The VGGish side signal: a training-only target the thumbnail model learns to reproduce.

``../shared/data/fma_small/vggish_embeddings.npz`` holds, for every FMA-small clip, the
mean VGGish embedding of the original 30 s MP3. VGGish cannot run inside genrescope, so
it is *privileged information*: seen during training, never at run time. It reaches the
student two ways (see ``training/genre/train.py``):

* **distillation** — a logistic-regression teacher on the standardised embedding gives
  soft genre probabilities; each clip's probabilities come from a teacher fitted on
  *other artists' clips* (out-of-fold, artist-grouped), so the teacher never grades a
  clip it was fitted on and its soft targets carry its real errors and doubts;
* **embedding regression** — an auxiliary head regresses the standardised embedding from
  the student's pooled clip vector: a dense, 128-number description of each clip's
  timbre learned from far more audio (AudioSet) than FMA-small holds.

A third training-only target travels with them: the averaged probabilities of an
ensemble of thumbnail networks (``ensemble_teachers``, computed in training/genre/train.py).

Only the clips a run trains on are ever read: a run's validation or CV fold, and the
test split, never feed the teacher or the standardisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

EMBEDDING_FILE = "vggish_embeddings.npz"
TEACHER_C = 0.01  # inverse L2 of the teacher; 61.9 % artist-grouped CV on train + val (shared/README.md)
TEACHER_FOLDS = 5  # out-of-fold teachers per training set


def embedding_path(data_root: str | Path) -> Path:
    return Path(data_root) / "fma_small" / EMBEDDING_FILE


def load_embeddings(path: Path, track_ids: np.ndarray) -> np.ndarray:
    """The embedding of each of ``track_ids`` (float32 [N, 128]); every one must be present."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: the VGGish embeddings are missing (see ../shared/README.md)")
    with np.load(path) as data:
        known, vectors = data["track_id"].astype(np.int64), data["embedding"].astype(np.float32)
    row = {int(t): i for i, t in enumerate(known)}
    missing = [int(t) for t in track_ids if int(t) not in row]
    if missing:
        raise ValueError(f"{path}: no embedding for {len(missing)} tracks, e.g. {missing[:3]}")
    return vectors[[row[int(t)] for t in track_ids]]


def standardise(embeddings: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance per dimension, from the given (training) clips only."""
    mean, std = embeddings.mean(0), embeddings.std(0)
    return ((embeddings - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)


def out_of_fold_teacher(
    embeddings: np.ndarray,
    labels: np.ndarray,
    artists: np.ndarray,
    classes: int,
    folds: int = TEACHER_FOLDS,
    c: float = TEACHER_C,
    seed: int = 0,
) -> np.ndarray:
    """Teacher probabilities [N, classes] for every clip, each from a logistic regression
    fitted on the clips of the *other* artist folds (so never on its own clip or artist)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probabilities = np.zeros((len(labels), classes), np.float32)
    # A tiny training set (tests, a user's small download) cannot fill more folds than
    # its rarest genre has clips.
    folds = max(2, min(folds, int(np.bincount(labels)[np.unique(labels)].min())))
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fit_rows, grade_rows in splitter.split(embeddings, labels, artists):
        teacher = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
        teacher.fit(embeddings[fit_rows], labels[fit_rows])
        probabilities[np.ix_(grade_rows, teacher.classes_)] = teacher.predict_proba(embeddings[grade_rows])
    return probabilities


@dataclass
class SideTargets:
    """Per-clip training-only targets: teacher probabilities, the standardised embedding and,
    when the run distils an ensemble, the ensemble's probabilities."""

    teacher: np.ndarray  # float32 [N, classes]
    embedding: np.ndarray  # float32 [N, 128]
    ensemble: np.ndarray | None = None  # float32 [N, classes]

    def stacked(self) -> np.ndarray:
        """One array [N, classes + classes + 128], so a batch mixes all with the same mixup
        draw; ``split`` takes a batch of it apart (zeros stand in for a missing ensemble)."""
        ensemble = np.zeros_like(self.teacher) if self.ensemble is None else self.ensemble
        return np.concatenate([self.teacher, ensemble, self.embedding], axis=1)

    @staticmethod
    def split(stacked: Any, classes: int) -> tuple[Any, Any, Any]:
        """Teacher, ensemble and embedding columns of a ``stacked`` batch (array or tensor)."""
        return stacked[:, :classes], stacked[:, classes : 2 * classes], stacked[:, 2 * classes :]


def side_targets(
    data_root: str | Path, track_ids: np.ndarray, labels: np.ndarray, artists: np.ndarray, classes: int, seed: int = 0
) -> SideTargets:
    """The VGGish side targets of a run's training clips, computed from those clips alone."""
    raw = load_embeddings(embedding_path(data_root), track_ids)
    return SideTargets(
        teacher=out_of_fold_teacher(raw, labels, artists, classes, seed=seed), embedding=standardise(raw)
    )
