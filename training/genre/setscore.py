"""Scores against genre *sets*: how a model does on clips whose label is a set of genres.

A 4Q clip is right when its top genre lies inside its set (``set accuracy``). Most clips
carry ``Pop|Rock``, so "always Rock" already scores over half; the **balanced** set
accuracy is the mean recall over the sets that come from one AllMusic genre (Pop|Rock,
International, Hip-Hop, Instrumental, Electronic, Folk, Experimental), which no constant
answer can win. Confidence is judged the same way: a calibrated model's top probability
should match how often its top genre lies in the set.
"""

from __future__ import annotations

import numpy as np

from genrescope.stream.outputs import save_figure
from genrescope.training.genre.fma import GENRES
from genrescope.training.genre.fourq import GENRE_MAP, set_key

ECE_BINS = 10
# The sets one AllMusic genre maps to: the classes of the balanced score.
SINGLE_GENRE_SETS = tuple(dict.fromkeys(set_key(tuple(g for g in GENRES if g in v)) for v in GENRE_MAP.values()))


def set_keys(sets: np.ndarray) -> np.ndarray:
    """Each clip's set as its name (``Pop|Rock``)."""
    return np.array([set_key(tuple(g for g, on in zip(GENRES, row, strict=True) if on)) for row in sets])


def in_set(probabilities: np.ndarray, sets: np.ndarray) -> np.ndarray:
    """Whether each clip's top genre lies in its set."""
    return sets[np.arange(len(sets)), probabilities.argmax(1)]


def set_log_loss(log_probabilities: np.ndarray, sets: np.ndarray) -> float:
    """Mean −log Σ_{g ∈ set} p(g): the set loss, in numpy (temperature fits read it)."""
    inside = np.where(sets, log_probabilities, -np.inf)
    peak = inside.max(axis=1, keepdims=True)
    return float(-(peak[:, 0] + np.log(np.exp(inside - peak).sum(axis=1))).mean())


def set_calibration_error(probabilities: np.ndarray, sets: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error of the top probability against "top genre in the set"."""
    confidence = probabilities.max(1)
    correct = in_set(probabilities, sets)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    return float(
        sum(
            abs(confidence[which == b].mean() - correct[which == b].mean()) * (which == b).mean()
            for b in range(bins)
            if (which == b).any()
        )
    )


def set_report(probabilities: np.ndarray, sets: np.ndarray, fold: np.ndarray | None = None) -> dict:
    """Set accuracy, balanced set accuracy, per-set recall, the confusion table (rows: the
    single-genre sets and "several genres"; columns: the answered genre), how often each
    genre is answered, calibration, and per fold when ``fold`` is given."""
    keys = set_keys(sets)
    correct = in_set(probabilities, sets)
    predicted = probabilities.argmax(1)
    recall = {
        key: {"n": int((keys == key).sum()), "recall": round(float(correct[keys == key].mean()), 4)}
        for key in SINGLE_GENRE_SETS
        if (keys == key).any()
    }
    rows = [key for key in SINGLE_GENRE_SETS if key in recall] + ["several genres"]
    row_of = np.array([k if k in recall else "several genres" for k in keys])
    report = {
        "n": len(keys),
        "set_accuracy": round(float(correct.mean()), 4),
        "balanced_set_accuracy": round(float(np.mean([r["recall"] for r in recall.values()])), 4),
        "per_set_recall": recall,
        "confusion": {
            "rows": rows,
            "columns": list(GENRES),
            "counts": [np.bincount(predicted[row_of == r], minlength=len(GENRES)).tolist() for r in rows],
        },
        "answered": {g: int((predicted == i).sum()) for i, g in enumerate(GENRES)},
        "ece": round(set_calibration_error(probabilities, sets), 4),
        "mean_confidence": round(float(probabilities.max(1).mean()), 4),
    }
    if fold is not None:
        report["per_fold"] = [
            set_report(probabilities[fold == k], sets[fold == k])["set_accuracy"] for k in np.unique(fold)
        ]
        report["per_fold_balanced"] = [
            set_report(probabilities[fold == k], sets[fold == k])["balanced_set_accuracy"] for k in np.unique(fold)
        ]
    return report


def confident_share(probabilities: np.ndarray, correct: np.ndarray, threshold: float) -> dict:
    """Above ``threshold`` (the engine's unsure_below): the share of clips answered with a
    genre, and how often that genre is right."""
    sure = probabilities.max(1) >= threshold
    return {
        "share_sure": round(float(sure.mean()), 4),
        "right_when_sure": round(float(correct[sure].mean()), 4) if sure.any() else None,
        "right_when_unsure": round(float(correct[~sure].mean()), 4) if (~sure).any() else None,
    }


def plot_set_confusion(reports: dict[str, dict], path, title: str) -> None:
    """Confusion tables side by side (row-normalised), one per model: the 4Q figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(reports), figsize=(6.2 * len(reports), 5.2), squeeze=False)
    for ax, (name, report) in zip(axes[0], reports.items(), strict=True):
        table = report["confusion"]
        counts = np.array(table["counts"], dtype=float)
        shares = counts / np.maximum(counts.sum(1, keepdims=True), 1)
        ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
        for (r, c), n in np.ndenumerate(counts):
            ax.text(
                c, r, int(n), ha="center", va="center", fontsize=8, color="white" if shares[r, c] > 0.5 else "black"
            )
        ax.set_xticks(range(len(table["columns"])), table["columns"], rotation=45, ha="right")
        ax.set_yticks(range(len(table["rows"])), [f"{r} ({int(counts[i].sum())})" for i, r in enumerate(table["rows"])])
        ax.set_xlabel("answered genre")
        ax.set_title(
            f"{name}\nset acc {report['set_accuracy']:.1%}, balanced {report['balanced_set_accuracy']:.1%}", fontsize=10
        )
    axes[0][0].set_ylabel("AllMusic genre set (clips)")
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


# Above the unsure threshold the top genre must be right this often, in each domain.
RIGHT_WHEN_SURE = 0.70
TEMPERATURES = np.exp(np.linspace(np.log(0.4), np.log(4.0), 161))
THRESHOLDS = np.round(np.arange(0.20, 0.951, 0.01), 2)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def pooled_temperature(
    fma_logits: np.ndarray, fma_labels: np.ndarray, fourq_logits: np.ndarray, fourq_sets: np.ndarray
) -> float:
    """The temperature minimising the two domains' mean log losses, each domain weighted
    equally (FMA: cross-entropy on its label; 4Q: the set loss)."""

    def loss(t: float) -> float:
        fma = -_log_softmax(fma_logits / t)[np.arange(len(fma_labels)), fma_labels].mean()
        return float(fma + set_log_loss(_log_softmax(fourq_logits / t), fourq_sets))

    return float(TEMPERATURES[np.argmin([loss(t) for t in TEMPERATURES])])


def pooled_confidence(
    fma_logits: np.ndarray, fma_labels: np.ndarray, fourq_logits: np.ndarray, fourq_sets: np.ndarray
) -> dict:
    """The temperature and the engine's ``unsure_below`` chosen on out-of-fold predictions
    of both domains: the lowest threshold above which the top genre is right at least
    ``RIGHT_WHEN_SURE`` of the time in each domain (the most answers that keep that
    promise), and per domain the share of clips above it and how often they are right."""
    temperature = pooled_temperature(fma_logits, fma_labels, fourq_logits, fourq_sets)
    fma_p = np.exp(_log_softmax(fma_logits / temperature))
    fourq_p = np.exp(_log_softmax(fourq_logits / temperature))
    fma_right, fourq_right = fma_p.argmax(1) == fma_labels, in_set(fourq_p, fourq_sets)

    def keeps_promise(t: float) -> bool:
        return all(
            (p.max(1) >= t).any() and right[p.max(1) >= t].mean() >= RIGHT_WHEN_SURE
            for p, right in ((fma_p, fma_right), (fourq_p, fourq_right))
        )

    threshold = next((float(t) for t in THRESHOLDS if keeps_promise(t)), None)
    report = {
        "temperature": round(temperature, 4),
        "unsure_below": threshold,
        "rule": f"lowest threshold (step 0.01) with the top genre right >= {RIGHT_WHEN_SURE:.0%} above it in "
        "each domain, on temperature-scaled out-of-fold probabilities",
    }
    for name, p, right in (("fma", fma_p, fma_right), ("fourq", fourq_p, fourq_right)):
        report[name] = confident_share(p, right, threshold if threshold is not None else 1.0)
        report[name]["ece"] = round(set_calibration_error(p, _one_hot_sets(p, name, fma_labels, fourq_sets)), 4)
    return report


def _one_hot_sets(p: np.ndarray, domain: str, fma_labels: np.ndarray, fourq_sets: np.ndarray) -> np.ndarray:
    """A domain's labels as sets (FMA's: one genre each), so one calibration error serves both."""
    if domain == "fourq":
        return fourq_sets
    return np.eye(p.shape[1], dtype=bool)[fma_labels]
