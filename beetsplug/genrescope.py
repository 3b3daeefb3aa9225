"""beets plugin: ``beet genrescope [QUERY]`` sets the genre of items from their audio.

Enable it with ``plugins: genrescope`` in beets' config.yaml; this module ships with
the genrescope distribution in beets' ``beetsplug`` namespace package, so nothing else
is needed. It uses genrescope's batched tagger (the same Python API and model as
``genrescope tag``), loaded only when the command or the import stage first runs.

What it sets: beets' ``genres`` field (every genre with at least ``min_confidence``,
most likely first; an item that already has genres keeps them unless ``force``), and
flexible fields ``genrescope_confidence`` (the top genre's probability),
``genrescope_genre`` (the top genre, also when it stays out of ``genres``) and
``genrescope_model`` (the model version). Files are written when beets' ``import.write``
(or ``-w``/``-W``) says so, as ``genrescope tag --write`` writes them: into a copy that
then replaces the file in one step, with Ctrl-C and SIGTERM held meanwhile (beets itself
saves in place, and a tag that grows moves the whole audio). beets' ``write`` and
``after_write`` events name that copy.

config.yaml::

    genrescope:
        auto: no             # also tag items as they are imported
        force: no            # replace genres an item already has
        min_confidence: 0.3  # 0 to 1
        model: ''            # an ONNX genre model; empty: the shipped one

A wrong value (``auto: maybe``, ``min_confidence: high`` or ``7``) is one line of error
when the plugin runs (beets' ``UserError``), never a traceback while beets loads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import confuse
from beets import ui
from beets.plugins import BeetsPlugin

if TYPE_CHECKING:
    from collections.abc import Iterable

    from beets.importer import ImportTask
    from beets.library import Item, Library

    from genrescope.stream.tag.batch_tagger import BatchTagger


@dataclass(frozen=True)
class Settings:
    """The plugin's part of beets' config, checked."""

    auto: bool
    force: bool
    min_confidence: float
    model: str


def checked_confidence(value: float, name: str) -> float:
    if not 0.0 <= value <= 1.0:
        raise ui.UserError(f"{name}: must be a probability from 0 to 1, got {value}")
    return value


class GenrescopePlugin(BeetsPlugin):
    def __init__(self) -> None:
        super().__init__("genrescope")
        self.config.add({"auto": False, "force": False, "min_confidence": 0.3, "model": ""})
        self._tagger: BatchTagger | None = None
        # always a stage, which asks `auto` when it runs: reading the config here would
        # turn a wrong value into a traceback of beets' plugin loader
        self.import_stages = [self.imported]

    def settings(self) -> Settings:
        """The config's values, or one line saying which is wrong (beets prints UserError)."""
        try:
            settings = Settings(
                self.config["auto"].get(bool),
                self.config["force"].get(bool),
                self.config["min_confidence"].as_number(),
                self.config["model"].as_str(),
            )
        except confuse.ConfigError as error:
            raise ui.UserError(f"configuration error: {error}") from None
        checked_confidence(settings.min_confidence, "configuration error: genrescope.min_confidence")
        return settings

    def commands(self) -> list[ui.Subcommand]:
        command = ui.Subcommand("genrescope", help="set genres from the audio with genrescope's model")
        command.parser.add_option(
            "-f", "--force", action="store_true", default=False, help="replace genres items already have"
        )
        command.parser.add_option(
            "-c",
            "--min-confidence",
            type=float,
            default=None,
            help="set every genre with at least this probability (default: config, 0.3)",
        )
        command.parser.add_option(
            "-w",
            "--write",
            dest="write",
            action="store_true",
            default=None,
            help="write the genres into the files (default: import.write)",
        )
        command.parser.add_option(
            "-W", "--nowrite", dest="write", action="store_false", help="only change beets' library, not the files"
        )
        command.func = self.command
        return [command]

    def command(self, lib: Library, opts: Any, args: list[str]) -> None:
        settings = self.settings()
        threshold = settings.min_confidence
        if opts.min_confidence is not None:
            threshold = checked_confidence(opts.min_confidence, "--min-confidence")
        self.tag_items(lib.items(args), ui.should_write(opts.write), opts.force or settings.force, threshold)

    def imported(self, session: Any, task: ImportTask) -> None:
        settings = self.settings()
        if settings.auto:
            self.tag_items(task.imported_items(), ui.should_write(), settings.force, settings.min_confidence)

    def tagger(self) -> BatchTagger:
        """The model, loaded at first use: beets starts as fast with the plugin as without."""
        if self._tagger is None:
            from genrescope.stream.tag.batch_tagger import load_batch_tagger

            self._tagger = load_batch_tagger(self.settings().model or None)
        return self._tagger

    def tag_items(self, items: Iterable[Item], write: bool, force: bool, min_confidence: float) -> None:
        for item in items:
            self.tag_item(item, write, force, min_confidence)

    def tag_item(self, item: Item, write: bool, force: bool, min_confidence: float) -> None:
        from genrescope.stream.engine.events import ranked

        tags = self.tagger().tag(item.filepath)
        if tags.error or not tags.probabilities:
            self._log.warning("{}: {}", item.filepath, tags.error or "too short to tag")
            return
        best = ranked(tags.probabilities.items())
        item["genrescope_genre"], item["genrescope_confidence"] = best[0][0], float(best[0][1])
        item["genrescope_model"] = self.tagger().model_version
        genres = [genre for genre, p in best if p >= min_confidence]
        if item.get("genres") and not force:
            self._log.info("{}: keeps its genres {} (force replaces them)", item, item.get("genres"))
        elif genres:
            item.genres = genres
        self._log.info("{}: {} ({:.0%})", item, best[0][0], best[0][1])
        if write:
            self.write_item(item)
        item.store()

    def write_item(self, item: Item) -> None:
        """beets' ``item.try_write()``, made all-or-nothing (see the module docstring)."""
        from beets.library import FileOperationError

        from genrescope.stream.outputs import changed_whole
        from genrescope.stream.tag.stop_signals import stop_signals_held

        try:
            with stop_signals_held(), changed_whole(item.filepath) as copy:
                item.write(path=str(copy))
        except (FileOperationError, OSError) as error:
            self._log.error("{}: cannot write its tags ({})", item.filepath, error)
            return
        item.mtime = item.current_mtime()
