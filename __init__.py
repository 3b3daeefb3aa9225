"""genrescope: streaming, real-time music-genre recognition — the Python API.

The command line is a thin layer over these calls; so are the benches and the tests::

    import genrescope

    engine = genrescope.load_engine()                  # the shipped model; numpy frontend,
                                                       # onnxruntime (CUDA where present)
    for update in engine.run(genrescope.open_source("song.mp3")):
        print(f"{update.time:6.1f} s  {update.top}")   # one update every 30/128 s of audio

    for tags in genrescope.tag_files(genrescope.find_audio(["~/Music"]), jobs=2):
        print(tags.path, tags.genre)                   # whole-file genre, one worker per core

    genrescope.classify_cover("folder.jpg")            # {"Rock": 0.61, "Pop": 0.22, ...}

The package's parts live under this namespace: ``genrescope.stream`` (sources, engine,
server, CLI), ``genrescope.model`` (frontend, model files, sessions), ``genrescope.training``
(FMA pipeline, training, evaluation; needs the ``[train]`` extra) and ``genrescope.web``
(the dashboard). Names here load their modules on first use, so ``import genrescope``
stays instant.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

__all__ = ["EngineConfig", "classify_cover", "find_audio", "load_engine", "open_source", "tag_files"]

_EXPORTS = {
    "load_engine": ("genrescope.stream.engine.engine", "load_engine"),
    "open_source": ("genrescope.stream.sources.factory", "open_source"),
    "find_audio": ("genrescope.stream.tag.library", "find_audio"),
    "tag_files": ("genrescope.stream.tag.library", "tag_library"),
    "EngineConfig": ("genrescope.stream.engine.config", "EngineConfig"),
}


def classify_cover(path: str | Path, label_set: str | None = None, model: str | Path | None = None) -> dict[str, float]:
    """Genre → probability for an image, or a song's embedded artwork, highest first."""
    from genrescope.model.cover.cover import CoverModel
    from genrescope.stream.cli.cover import InputError, load_image
    from genrescope.stream.engine.events import ranked

    try:
        image, _ = load_image(Path(path))
    except InputError as error:
        raise ValueError(f"{path}: {error}") from error
    return dict(ranked(CoverModel.load(model).predict(image, label_set=label_set).items()))


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'genrescope' has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    return getattr(importlib.import_module(module), attribute)
