"""Chroma and key through the real engine: synthesised notes, chords and pieces in all 24
keys (tempered and detuned, harmonic tones, several sample rates: the engine resamples
to 44.1 kHz), the real clips, silence, and the key's tag strings.

The per-key accuracy table is printed in the test output (not only with -s)."""

from __future__ import annotations

import json
from collections import Counter
from itertools import pairwise

import numpy as np
import pytest
import soundfile as sf
from rich.console import Console

from genrescope.model.frontend.pitch import PROFILES, Key, file_key
from genrescope.model.session import GenreModel
from genrescope.stream.cli.terminal import render
from genrescope.stream.engine.engine import EngineConfig, GenreEngine
from genrescope.stream.sources.chunk import AudioChunk
from genrescope.stream.sources.filesource import FileSource
from genrescope.stream.tag.library import tag_file
from music_synth import chord, key_piece, note, triad
from support import run_cli

# (sample rate, detuning in cents) of the key pieces: each of the 24 keys under each.
KEY_CONDITIONS = ((22_050, 0.0), (44_100, 20.0), (48_000, -30.0), (96_000, 0.0))
# Past this much context the real clips' key is held to the whole clip's.
SETTLED_SECONDS = 10.0
SCALE_SECONDS = 2.0  # key_piece's scale: 8 notes of 0.25 s


@pytest.fixture(scope="module")
def engine(test_model_path) -> GenreEngine:
    """An engine whose first update comes with the first column (no second of warm-up)."""
    return GenreEngine(GenreModel.load(test_model_path), EngineConfig(min_context_seconds=0))


def stream(engine: GenreEngine, audio: np.ndarray, rate: int) -> list:
    engine.reset()
    block = rate // 10
    return list(engine.run(AudioChunk(audio[i : i + block, None], rate) for i in range(0, len(audio), block)))


def chroma_at(updates: list, seconds: float) -> np.ndarray:
    """The chroma of the update nearest ``seconds`` of stream time."""
    return np.array(min(updates, key=lambda u: abs(u.time - seconds)).chroma)


@pytest.mark.parametrize("rate", [22_050, 44_100, 48_000])
def test_a_note_peaks_on_its_pitch_class_from_c2_to_c7(engine, rate):
    wrong = []
    for midi in range(36, 97):
        for cents in (0.0, 25.0, -25.0):
            chroma = chroma_at(stream(engine, note(midi, 0.6, rate, cents), rate), 0.3)
            if chroma.argmax() != midi % 12:
                wrong.append((midi, cents, int(chroma.argmax())))
    assert wrong == []


@pytest.mark.parametrize("rate,cents", [(44_100, 0.0), (48_000, 20.0), (22_050, -20.0)])
def test_a_triad_fills_its_three_pitch_classes(engine, rate, cents):
    """Triads on C5…B5. An octave lower a minor third spans 2.3–4.2 bins, inside the
    Hann window's main lobe (±2 bins), so the per-column chroma of C4 minor can lose its
    third (model/frontend/pitch.py); the key, which pools many columns, still comes out right."""
    for root in range(72, 84):
        for minor in (False, True):
            notes = triad(root, minor)
            chroma = chroma_at(stream(engine, chord(notes, 0.6, rate, cents), rate), 0.3)
            assert set(np.argsort(chroma)[-3:]) == {m % 12 for m in notes}, (root, minor, chroma.round(2))


def relation(estimate: Key | None, truth: Key) -> str:
    """How an estimate relates to the true key, in the categories the README reports."""
    if estimate == truth:
        return "right"
    if estimate == truth.relative:
        return "relative"
    if estimate is not None and estimate.minor == truth.minor and (estimate.tonic - truth.tonic) % 12 in (5, 7):
        return "fifth"
    return "other"


def test_pieces_in_every_key_name_their_key(engine, capsys):
    """The live key (the last update's, over the whole piece) and the whole-file key of
    every piece, tabulated per key; the alternative profile is scored on the same chroma.
    'scale' is the live key when only the scale has sounded (2 s, no chords)."""
    outcomes: dict[str, dict[Key, Counter]] = {name: {} for name in ("live", "scale", *PROFILES)}
    for tonic in range(12):
        for minor in (False, True):
            truth = Key(tonic, minor)
            for rate, cents in KEY_CONDITIONS:
                updates = stream(engine, key_piece(truth, rate, cents), rate)
                chromas = np.array([u.chroma for u in updates])
                outcomes["live"].setdefault(truth, Counter())[relation(updates[-1].key.key, truth)] += 1
                scale_end = max((u for u in updates if u.time <= SCALE_SECONDS), key=lambda u: u.time)
                outcomes["scale"].setdefault(truth, Counter())[relation(scale_end.key.key, truth)] += 1
                for profile in PROFILES:
                    found = file_key(chromas, profile).key
                    outcomes[profile].setdefault(truth, Counter())[relation(found, truth)] += 1
    with capsys.disabled():
        print("\n" + key_table(outcomes))
    live = sum(outcomes["live"].values(), Counter())
    assert live["right"] + live["relative"] == 24 * len(KEY_CONDITIONS), live
    assert live["right"] >= 0.9 * 24 * len(KEY_CONDITIONS), live
    scale = sum(outcomes["scale"].values(), Counter())
    assert scale["right"] >= 0.9 * 24 * len(KEY_CONDITIONS), scale


def key_table(outcomes: dict[str, dict[Key, Counter]]) -> str:
    """Per key: right / relative / fifth / other out of the conditions, per estimator."""
    names = list(outcomes)
    header = f"{'key':<10}" + "".join(f"{name + ' R/rel/5th/other':>28}" for name in names)
    lines = [
        f"key estimates of synthesised pieces, {len(KEY_CONDITIONS)} conditions (rate, cents) {KEY_CONDITIONS} per key",
        header,
    ]
    keys = list(outcomes["live"])
    for key in keys + [None]:
        cells = []
        for name in names:
            counts = sum(outcomes[name].values(), Counter()) if key is None else outcomes[name][key]
            cells.append("/".join(str(counts[c]) for c in ("right", "relative", "fifth", "other")))
        lines.append(f"{'all' if key is None else key.name:<10}" + "".join(f"{cell:>28}" for cell in cells))
    return "\n".join(lines)


def test_real_clips_keep_their_key(engine, music_clips, capsys):
    report = []
    for clip in music_clips:
        engine.reset()
        updates = list(engine.run(FileSource(clip)))
        whole = file_key(np.array([u.chroma for u in updates]))
        assert whole.key is not None and whole.confidence > 0.5
        settled = [u.key.key for u in updates if u.context_seconds >= SETTLED_SECONDS]
        agree = sum(key in (whole.key, whole.key.relative) for key in settled) / len(settled)
        names = [u.key.name for u in updates]
        changes = sum(a != b for a, b in pairwise(names))
        report.append(
            f"{clip.name}: whole clip {whole.name} (r = {whole.confidence:.2f}); {changes} changes over "
            f"{len(updates)} updates; from {SETTLED_SECONDS:.0f} s of context on, {agree:.0%} name it or its "
            f"relative; most named: {Counter(names).most_common(3)}"
        )
        assert agree >= 0.9 and changes <= 8, report[-1]
    with capsys.disabled():
        print("\n" + "\n".join(report))


def test_silence_has_no_key_and_a_silent_context_forgets_it(engine):
    rate = 44_100
    for update in stream(engine, np.zeros(2 * rate, np.float32), rate):
        assert update.key.key is None and update.key.confidence == 0.0 and not any(update.chroma)
        message = update.to_message()
        assert message["key"] is None and message["key_confidence"] == 0 and message["chroma"] == [0.0] * 12
    # Faint noise, 80 dB below full scale, is silence too.
    faint = 1e-4 * np.random.default_rng(0).standard_normal(rate).astype(np.float32)
    assert all(u.key.key is None for u in stream(engine, faint, rate))
    # Music, then more silence than the context holds: the key fades with the music.
    music = key_piece(Key(9, True), rate)
    updates = stream(engine, np.concatenate([music, np.zeros(32 * rate, np.float32)]), rate)
    assert min(updates, key=lambda u: abs(u.time - len(music) / rate)).key.key == Key(9, True)
    assert updates[-1].key.key is None


def test_without_pitch_updates_carry_no_chroma(test_model_path):
    engine = GenreEngine(GenreModel.load(test_model_path), EngineConfig(pitch=False))
    update = stream(engine, key_piece(Key(0, False), 44_100), 44_100)[-1]
    assert update.chroma == () and update.key is None
    assert not {"chroma", "key", "key_confidence"} & set(update.to_message())


def test_file_jsonl_and_tag_carry_the_key(engine, test_model_path, tmp_path):
    path = tmp_path / "e_flat_minor.flac"
    sf.write(path, key_piece(Key(3, True), 48_000), 48_000)
    out = tmp_path / "updates.jsonl"
    result = run_cli("file", str(path), "--jsonl", str(out), "--model", str(test_model_path))
    assert result.returncode == 0, result.stderr
    last = json.loads(out.read_text().splitlines()[-1])
    assert last["key"] == "Eb minor" and 0.5 < last["key_confidence"] <= 1 and len(last["chroma"]) == 12
    tags = tag_file(engine, path)
    row = tags.to_dict()
    assert (row["key"], row["key_tag"]) == ("Eb minor", "Ebm") and row["key_confidence"] > 0.5
    assert "key Eb minor" in tags.text()


def test_key_tags_in_the_id3_tkey_form():
    """ID3v2 TKEY: at most three characters, A–G, then 'b' or '#', then 'm' for minor;
    Vorbis KEY / INITIALKEY take the same string. Spelt as key signatures spell them."""
    majors = ["C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
    minors = ["Cm", "C#m", "Dm", "Ebm", "Em", "Fm", "F#m", "Gm", "G#m", "Am", "Bbm", "Bm"]
    assert [Key(t, False).tag for t in range(12)] == majors
    assert [Key(t, True).tag for t in range(12)] == minors
    assert Key(9, True).name == "A minor" and Key(6, False).name == "F# major"
    assert all(Key(t, m).relative.relative == Key(t, m) for t in range(12) for m in (False, True))
    assert Key(9, True).relative == Key(0, False)
    assert all(Key.from_tag(Key(t, m).tag) == Key(t, m) for t in range(12) for m in (False, True))
    for bad in ("H", "Cbm", "", "m"):
        with pytest.raises(ValueError):
            Key.from_tag(bad)


def test_the_terminal_view_names_the_key(engine):
    update = stream(engine, key_piece(Key(2, False), 44_100), 44_100)[-1]
    console = Console(record=True, width=120)
    console.print(render(update, "d_major.wav"))
    assert f"key D major (fit {update.key.confidence:.2f})" in console.export_text()


def test_the_torch_frontend_gives_the_same_chroma_and_key(engine, test_model_path):
    """The GPU frontend's path (power spectra as tensors, copied to numpy for the chroma),
    run on the CPU: the same chroma and key as the numpy frontend."""
    torch_frontend = pytest.importorskip("genrescope.model.frontend.frontend_torch", reason="needs [gpu] or [train]")
    other = GenreEngine(GenreModel.load(test_model_path), EngineConfig(min_context_seconds=0))
    other.frontend = torch_frontend.TorchMelFrontend(other.spec, "cpu")
    other.reset()  # its context in the torch frontend's tensors
    piece = key_piece(Key(7, False), 44_100)
    ours, theirs = stream(engine, piece, 44_100), stream(other, piece, 44_100)
    np.testing.assert_allclose([u.chroma for u in ours], [u.chroma for u in theirs], atol=1e-6)
    assert [u.key.key for u in ours] == [u.key.key for u in theirs] and ours[-1].key.key == Key(7, False)
