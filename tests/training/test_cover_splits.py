"""Split honesty on the real cover data (skipped where ../shared is absent)."""

from __future__ import annotations

import csv
import hashlib
from collections import defaultdict

import pytest
import torch

from genrescope.model.cover.cover_spec import CoverSpec
from genrescope.training.cover.covers import SPLITS, SplitConfig, group_folds, load_splits
from genrescope.training.cover.train_cover import described, group_splits
from genrescope.training.genre.config import DEFAULT_DATA_ROOT

ROOT = DEFAULT_DATA_ROOT
pytestmark = pytest.mark.skipif(
    not (ROOT / "covers").exists(), reason=f"cover data not found at {ROOT} (only on dev machines and CI)"
)


@pytest.fixture(scope="module")
def splits():
    return load_splits(ROOT)


def owners(items, key) -> dict[str, set[str]]:
    found = defaultdict(set)
    for split, its in items.items():
        for it in its:
            found[key(it)].add(split)
    return found


def test_no_image_crosses_splits(splits):
    for name, by_split in splits.items():
        md5 = owners(by_split, lambda it: hashlib.md5(it.path.read_bytes()).hexdigest())
        assert all(len(s) == 1 for s in md5.values()), f"{name}: identical file in two splits"


def test_discogs_cross_genre_duplicates_dropped(splits):
    with open(ROOT / "covers/discogs5/labels.csv", newline="") as f:
        dup = {r["path"] for r in csv.DictReader(f) if r["cross_genre_duplicate"] == "1"}
    kept = {f"{it.path.parent.name}/{it.path.name}" for s in splits["discogs5"].values() for it in s}
    assert dup and not dup & kept


def test_spotify_artists_stay_on_one_side(splits):
    with open(ROOT / "covers/spotify6/labels.csv", newline="") as f:
        artist = {r["path"]: r["artist_id"] for r in csv.DictReader(f)}
    by_artist = owners(splits["spotify5"], lambda it: artist[f"{it.path.parent.name}/{it.path.name}"])
    assert all(len(s) == 1 for s in by_artist.values())
    assert all(len({a for a, s in by_artist.items() if split in s}) >= 15 for split in ("val", "test"))


def test_every_label_in_every_split_and_seeded(splits):
    for by_split in splits.values():
        labels = {it.label for it in by_split["train"]}
        assert all({it.label for it in by_split[s]} == labels for s in SPLITS)
    again = load_splits(ROOT, SplitConfig())
    assert [it.path for it in again["spotify5"]["test"]] == [it.path for it in splits["spotify5"]["test"]]


def test_cross_validation_folds_keep_artists_apart(splits):
    """genrescope cover-cv: whole artists per fold, every cover tested once, never trained on."""
    items = [it for s in SPLITS for it in splits["spotify5"][s]]
    folds = group_folds(items, 5, seed=0)
    assert sorted(it.path for f in folds for it in f) == sorted(it.path for it in items)
    group_fold = owners(dict(enumerate(folds)), lambda it: it.group)
    assert all(len(f) == 1 for f in group_fold.values())
    assert all({it.label for it in f} == {it.label for it in items} for f in folds)
    data = described(CoverSpec(), items, torch.zeros(len(items), 1))
    for train, test in group_splits(data, 5, seed=0):
        assert sorted(it.path for it in [*train.items, *test.items]) == sorted(it.path for it in items)
        assert not {it.group for it in train.items} & {it.group for it in test.items}
