"""The 4Q set: 900 commercial 30 s previews outside FMA, rendered as the engine sees audio.

Panda et al. (2018), "Novel audio features for music emotion recognition": AllMusic
previews (MP3, 64–96 kbps, mostly 32 or 22.05 kHz) of 662 artists, each with its
AllMusic genres. A public GitHub repository (Famelgas/MULT_TP2, commit
``FOURQ_COMMIT``) holds the files as real git blobs; ``genrescope fourq-build`` reads
them from a local copy of that repository with ``git ls-tree`` / ``git cat-file``,
checks that the 900 files are there, and writes one ``.npz`` outside the repository.

Labels are sets. AllMusic's genres are coarser or other than FMA's (``Pop/Rock`` is one
genre; Jazz, Blues, R&B, Country have no FMA-small counterpart), a clip can carry
several, and some are wrong. ``GENRE_MAP`` maps each AllMusic genre to the FMA-small
genres it covers, following FMA's own genre tree (``fma_small/genres.csv``: Latin and
Reggae sit under International, New Age under Instrumental, Rap under Hip-Hop,
Avant-Garde under Experimental), and a clip's label is the union: the top genre is
right when it lies inside that set. Unmapped genres contribute nothing; a clip whose
set is empty is kept (for unlabelled uses) but never scored.

Each clip is stored as its whole **hop grid** (every STFT frame on the 512-sample hop,
relative to the clip's maximum, as thumbnail colour indices): the engine samples one
frame every ≈20.2 hops starting wherever the stream happened to start, so every offset
of the column grid (its *phase*) is a view the engine can produce, and training draws
among them.
"""

from __future__ import annotations

import csv
import io
import logging
import subprocess
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from genrescope.model.frontend.frontend import MelFrontend, relative_db
from genrescope.model.frontend.spec import THUMBNAIL_SECONDS, FrontendSpec
from genrescope.stream.outputs import written_whole
from genrescope.training.genre.config import default_fourq_path
from genrescope.training.genre.fma import GENRES
from genrescope.training.genre.thumbnail import db_to_index
from genrescope.training.settings import ConfigError

log = logging.getLogger(__name__)

FOURQ_REPOSITORY = "Famelgas/MULT_TP2"
FOURQ_COMMIT = "24534942b95febba48fc72f7fe6aa2d1013c4939"
AUDIO_DIRS = tuple(f"MER_audio_taffc_dataset/Q{q}/" for q in range(1, 5))
METADATA_PATH = "MER_audio_taffc_dataset/panda_dataset_taffc_metadata.csv"
EXPECTED_CLIPS = 900

# AllMusic genre → the FMA-small genres it covers (FMA's genre tree; see the module docstring).
# Stage & Screen is left out: AllMusic files musicals and show tunes (sung) there beside
# film scores, so it does not say "Instrumental". Jazz, Blues, R&B, Country, Vocal, Easy
# Listening, Classical, Religious, Holiday, Children's and Comedy/Spoken have no FMA-small genre.
GENRE_MAP: dict[str, tuple[str, ...]] = {
    "Pop/Rock": ("Pop", "Rock"),
    "Electronic": ("Electronic",),
    "International": ("International",),
    "Latin": ("International",),
    "Reggae": ("International",),
    "Rap": ("Hip-Hop",),
    "Folk": ("Folk",),
    "New Age": ("Instrumental",),
    "Avant-Garde": ("Experimental",),
}

# Whole clips: the hop grid of a 30 s thumbnail (1 + 30·44100 // 512 frames); shorter clips
# are padded with the floor (index 0), longer ones cut.
GRID_FRAMES = 1 + int(THUMBNAIL_SECONDS * FrontendSpec().sample_rate) // FrontendSpec().hop_length


def genre_set(genres_str: str) -> tuple[str, ...]:
    """The FMA-small genres an AllMusic ``GenresStr`` (``;``-separated) maps to, in GENRES order."""
    mapped = {ours for name in genres_str.split(";") for ours in GENRE_MAP.get(name.strip(), ())}
    return tuple(g for g in GENRES if g in mapped)


def set_key(genres: tuple[str, ...]) -> str:
    """A set's name in reports: ``Pop|Rock``, ``Hip-Hop``."""
    return "|".join(genres)


@dataclass
class FourQSet:
    """The rendered clips with their genre sets (the order of ``song``)."""

    grids: np.ndarray  # uint8 [N, GRID_FRAMES, n_mels]: hop-grid colour indices, clip max = 255
    frames: np.ndarray  # int32 [N]: real (unpadded) frames of each clip
    sets: np.ndarray  # bool [N, len(GENRES)]: the clip's label set
    artists: np.ndarray  # str [N]
    songs: np.ndarray  # str [N]: the dataset's song id (MT...)
    native_rate: np.ndarray  # int32 [N]: the MP3's sample rate (its bandwidth is half of it)

    @property
    def labelled(self) -> np.ndarray:
        """Rows whose set is not empty: the ones any score counts."""
        return self.sets.any(axis=1)

    def rows(self, keep: np.ndarray) -> FourQSet:
        return FourQSet(**{f.name: getattr(self, f.name)[keep] for f in fields(self)})

    def phase_images(self, phases: np.ndarray, spec: FrontendSpec = FrontendSpec()) -> np.ndarray:
        """One 128-column image per clip [N, columns, mels], the column grid shifted by
        ``phases`` hops (0 ≤ phase < frames_per_column): what the engine samples from a
        stream that started ``phase`` hops later in the music."""
        base = np.floor((np.arange(spec.context_columns) + 0.5) * spec.frames_per_column).astype(int)
        rows = np.minimum(base[None, :] + np.asarray(phases)[:, None], self.grids.shape[1] - 1)
        return self.grids[np.arange(len(self.grids))[:, None], rows]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with written_whole(path, "wb") as out:
            np.savez(out, **{f.name: getattr(self, f.name) for f in fields(self)})

    @classmethod
    def load(cls, path: Path) -> FourQSet:
        if not path.exists():
            raise FileNotFoundError(
                f"{path}: no 4Q set here; build it with `genrescope fourq-build COPY` "
                f"(COPY: a local git copy of github.com/{FOURQ_REPOSITORY})"
            )
        with np.load(path) as data:
            return cls(**{f.name: data[f.name] for f in fields(cls)})


class FourQError(ConfigError):
    """A copy of the repository, or a built set, that cannot be used: one line for the user."""


class FourQCopy:
    """A local git copy of the repository: its metadata and audio blobs, read with git."""

    def __init__(self, git_dir: Path, commit: str = FOURQ_COMMIT):
        self.git_dir = git_dir
        self.commit = commit
        if not self._git("cat-file", "-t", commit, check=False).strip() == b"commit":
            raise FourQError(
                f"{git_dir}: not a git copy of {FOURQ_REPOSITORY} holding commit {commit[:12]} "
                f"(fetch the repository, then pass its git directory)"
            )

    def _git(self, *args: str, check: bool = True) -> bytes:
        result = subprocess.run(["git", "--git-dir", str(self.git_dir), *args], capture_output=True, check=False)
        if check and result.returncode != 0:
            raise FourQError(f"git {' '.join(args[:2])} in {self.git_dir}: {result.stderr.decode().strip()}")
        return result.stdout

    def metadata(self) -> list[dict[str, str]]:
        text = self._git("cat-file", "blob", f"{self.commit}:{METADATA_PATH}").decode("utf-8-sig")
        return list(csv.DictReader(io.StringIO(text)))

    def audio_blobs(self) -> dict[str, str]:
        """Song id → blob id of its MP3 under Q1..Q4 (each song stands in one quadrant)."""
        blobs = {}
        for line in self._git("ls-tree", "-r", self.commit, "--", *AUDIO_DIRS).decode().splitlines():
            meta, path = line.split("\t", 1)
            if path.endswith(".mp3"):
                blobs[Path(path).stem] = meta.split()[2]
        return blobs

    def blob(self, blob_id: str) -> bytes:
        return self._git("cat-file", "blob", blob_id)


def render_grid(frontend: MelFrontend, audio: np.ndarray) -> np.ndarray:
    """A clip's whole hop grid as colour indices relative to its maximum [frames, mels],
    the way the thumbnails store levels (``training/thumbnail.py``)."""
    spec = frontend.spec
    grid = relative_db(frontend.hop_grid_db(audio[: int(THUMBNAIL_SECONDS * spec.sample_rate)]), spec.floor_db)
    return db_to_index(grid, spec.floor_db, 0.0)


def build_fourq(copy: FourQCopy, out: Path, expected: int = EXPECTED_CLIPS) -> FourQSet:
    """Decode, check and render the ``expected`` clips (the 900 of the dataset) into ``out``."""
    import av
    from rich.progress import track

    from genrescope.stream.sources.audio_file import read_audio

    rows = copy.metadata()
    blobs = copy.audio_blobs()
    missing = [row["Song"] for row in rows if row["Song"] not in blobs]
    if len(rows) != expected or missing:
        raise FourQError(
            f"expected {expected} songs with audio, found {len(rows)} rows, "
            f"{len(missing)} without an MP3 (e.g. {missing[:3]})"
        )
    frontend = MelFrontend(FrontendSpec())
    grids = np.zeros((len(rows), GRID_FRAMES, frontend.spec.n_mels), np.uint8)
    frames, rates = np.zeros(len(rows), np.int32), np.zeros(len(rows), np.int32)
    with tempfile.TemporaryDirectory() as scratch:
        for i, row in enumerate(track(rows, description="4Q clips")):
            path = Path(scratch) / f"{row['Song']}.mp3"
            path.write_bytes(copy.blob(blobs[row["Song"]]))
            with av.open(str(path)) as container:
                rates[i] = container.streams.audio[0].sample_rate
            grid = render_grid(frontend, read_audio(path, frontend.spec.sample_rate, THUMBNAIL_SECONDS))
            frames[i] = min(len(grid), GRID_FRAMES)
            grids[i, : frames[i]] = grid[:GRID_FRAMES]
            path.unlink()
    fourq = FourQSet(
        grids=grids,
        frames=frames,
        sets=np.array([[g in genre_set(row["GenresStr"]) for g in GENRES] for row in rows]),
        artists=np.array([row["Artist"] for row in rows]),
        songs=np.array([row["Song"] for row in rows]),
        native_rate=rates,
    )
    fourq.save(out)
    return fourq


def describe(fourq: FourQSet) -> str:
    """Counts a user can check the build by: clips, labelled clips, artists, single-genre sets, rates."""
    from collections import Counter

    keys = Counter(
        set_key(tuple(g for g, on in zip(GENRES, row, strict=True) if on)) for row in fourq.sets[fourq.labelled]
    )
    singles = {k: n for k, n in keys.most_common() if k.count("|") == 0 or k == "Pop|Rock"}
    rates = Counter(int(r) for r in fourq.native_rate)
    return (
        f"{len(fourq.songs)} clips, {int(fourq.labelled.sum())} labelled, {len(set(fourq.artists))} artists; "
        f"single-genre sets {singles}; native rates {dict(rates.most_common())}"
    )


def run_fourq_build(args) -> int:
    """``genrescope fourq-build COPY [--out PATH]``."""
    out = args.out or default_fourq_path()
    fourq = build_fourq(FourQCopy(args.copy), out, args.expect)
    print(f"wrote {out}: {describe(fourq)}")
    return 0
