"""The two cover data sets, read from ../shared, and honest, seeded splits of them.

Honesty rules (why each exists):

* discogs5: 546 files are byte-identical copies filed under two or more genres. Their
  label is ambiguous and a copy on each side of a split would leak, so they are dropped
  (this is also how the 33.6 % anchor was measured: "deduplicated").
* spotify6: only about 20 artists per genre, and an artist's covers share a visual
  style, so images are grouped by artist (and by md5, since a few files are identical
  across albums) and whole groups go to one split. ``reggae`` has only 4 artists — too
  few to give train, validation and test an artist each — so genres with fewer than
  ``min_groups_per_label`` artists are dropped, leaving 5 classes (as in the anchor).

Splits are stratified by label at the group level and fully determined by the seed.
"""

from __future__ import annotations

import csv
import hashlib
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from genrescope.training.genre.config import DEFAULT_DATA_ROOT

SPLITS = ("train", "val", "test")
# Canonical (union) label for each spotify6 folder name.
SPOTIFY_LABELS = {
    "classical": "Classical",
    "country": "Country",
    "hiphop": "HipHop",
    "jazz": "Jazz",
    "metal": "Metal",
    "reggae": "Reggae",
}


@dataclass(frozen=True)
class CoverItem:
    """One labelled cover: where it is, its label, its data set and its split group."""

    path: Path
    label: str
    dataset: str
    group: str


@dataclass(frozen=True)
class SplitConfig:
    """Split fractions (train, val, test) per data set, and the seed."""

    discogs_fractions: tuple[float, float, float] = (0.70, 0.15, 0.15)
    # Fewer groups (artists) → larger held-out shares, so val and test hold ~4 artists each.
    spotify_fractions: tuple[float, float, float] = (0.60, 0.20, 0.20)
    min_groups_per_label: int = 10
    seed: int = 0


def load_discogs5(root: Path) -> list[CoverItem]:
    """Discogs covers without the cross-genre duplicates; grouped by md5 ∪ release."""
    base = root / "covers" / "discogs5"
    with open(base / "labels.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["cross_genre_duplicate"] == "0"]
    groups = _union_groups([("md5:" + r["md5"], "release:" + r["discogs_release_id"]) for r in rows])
    return [CoverItem(base / r["path"], r["genre"], "discogs5", g) for r, g in zip(rows, groups, strict=True)]


def load_spotify5(root: Path, min_groups_per_label: int = 10) -> list[CoverItem]:
    """Spotify covers grouped by artist ∪ identical file; thin genres dropped."""
    base = root / "covers" / "spotify6"
    with open(base / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    md5s = [hashlib.md5((base / r["path"]).read_bytes()).hexdigest() for r in rows]
    groups = _union_groups([("artist:" + r["artist_id"], "md5:" + m) for r, m in zip(rows, md5s, strict=True)])
    items = [
        CoverItem(base / r["path"], SPOTIFY_LABELS[r["genre"]], "spotify5", g)
        for r, g in zip(rows, groups, strict=True)
    ]
    artists = defaultdict(set)
    for r in rows:
        artists[SPOTIFY_LABELS[r["genre"]]].add(r["artist_id"])
    keep = {label for label, a in artists.items() if len(a) >= min_groups_per_label}
    return [it for it in items if it.label in keep]


def _union_groups(keys: list[tuple[str, str]]) -> list[str]:
    """Connected components over items that share any key; returns a group id per item."""
    parent: dict[str, str] = {}

    def find(k: str) -> str:
        parent.setdefault(k, k)
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for a, b in keys:
        parent[find(a)] = find(b)
    return [find(a) for a, _ in keys]


def _groups_by_majority_label(items: list[CoverItem]) -> tuple[dict[str, list[CoverItem]], dict[str, list[str]]]:
    """Items per group, and the groups per label (each group under its majority label)."""
    by_group: dict[str, list[CoverItem]] = defaultdict(list)
    for it in items:
        by_group[it.group].append(it)
    by_label: dict[str, list[str]] = defaultdict(list)
    for g, members in sorted(by_group.items()):
        by_label[Counter(m.label for m in members).most_common(1)[0][0]].append(g)
    return by_group, by_label


def split_items(items: list[CoverItem], fractions: tuple[float, float, float], seed: int) -> dict[str, list[CoverItem]]:
    """Stratified group split: each group goes wholly to one split, labelled by its majority."""
    by_group, by_label = _groups_by_majority_label(items)
    rng = random.Random(seed)
    out: dict[str, list[CoverItem]] = {s: [] for s in SPLITS}
    for label in sorted(by_label):
        groups = by_label[label]
        rng.shuffle(groups)
        n_val = max(1, round(fractions[1] * len(groups)))
        n_test = max(1, round(fractions[2] * len(groups)))
        parts = {"test": groups[:n_test], "val": groups[n_test : n_test + n_val], "train": groups[n_test + n_val :]}
        for split, gs in parts.items():
            out[split].extend(m for g in gs for m in by_group[g])
    return out


def load_splits(root: Path | None = None, cfg: SplitConfig = SplitConfig()) -> dict[str, dict[str, list[CoverItem]]]:
    """{data set: {split: items}} for discogs5 and spotify5."""
    root = Path(root) if root is not None else DEFAULT_DATA_ROOT
    return {
        "discogs5": split_items(load_discogs5(root), cfg.discogs_fractions, cfg.seed),
        "spotify5": split_items(load_spotify5(root, cfg.min_groups_per_label), cfg.spotify_fractions, cfg.seed),
    }


def group_folds(items: list[CoverItem], k: int, seed: int) -> list[list[CoverItem]]:
    """k stratified folds of whole groups (for cross-validated anchors)."""
    by_group, by_label = _groups_by_majority_label(items)
    rng = random.Random(seed)
    folds: list[list[CoverItem]] = [[] for _ in range(k)]
    for label in sorted(by_label):
        groups = by_label[label]
        rng.shuffle(groups)
        for i, g in enumerate(groups):
            folds[i % k].extend(by_group[g])
    return folds
