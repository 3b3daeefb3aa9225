"""``genrescope serve`` with named sources: many streams, one batched model, one port."""

from __future__ import annotations

import asyncio
import logging
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from genrescope.model.session import GenreModel
from genrescope.stream.engine.config import EngineConfig
from genrescope.stream.engine.multi import BatchScheduler
from genrescope.stream.segments.airplay import open_recorder
from genrescope.stream.segments.live import feed_server
from genrescope.stream.serve.multiserver import MultiStreamServer
from genrescope.stream.serve.osc import OscOutput, parse_osc_target
from genrescope.stream.serve.server import ServerConfig, serve_until_stopped
from genrescope.stream.serve.streams_protocol import PROTOCOL_VERSION
from genrescope.stream.sources.chunk import STALL_SECONDS
from genrescope.stream.sources.factory import (
    NAME,
    NamedSource,
    SourceSpecError,
    check_unique,
    load_sources_file,
    open_named,
    parse_source_option,
)
from genrescope.stream.sources.spec import with_device

log = logging.getLogger(__name__)


def named_sources(options: list[str], sources_file: Path | None, device: str | None = None) -> list[NamedSource]:
    """The streams of ``--source NAME=SPEC ...`` and ``--sources FILE``, checked, with
    ``--device`` given to each ``mic`` that names none."""
    sources = [parse_source_option(option) for option in options]
    if sources_file is not None:
        sources += load_sources_file(sources_file)
    return [NamedSource(source.name, with_device(source.source, device)) for source in check_unique(sources)]


def serves_many(options: list[str], sources_file: Path | None, osc: str | None) -> bool:
    """Whether ``serve``'s options ask for named streams (protocol v2) rather than one
    unnamed stream (v1): several sources, a sources file, OSC, or one NAME=SPEC that is
    not an existing file's name."""
    single = options[0] if len(options) == 1 else None
    named = (
        single is not None
        and "=" in single
        and bool(NAME.fullmatch(single.partition("=")[0]))
        and not Path(single).exists()
    )
    return len(options) > 1 or sources_file is not None or osc is not None or named


def serve_many(
    sources: list[NamedSource],
    config: EngineConfig,
    server: ServerConfig,
    model_path: Path | None,
    prefer_gpu: bool,
    osc: str | None,
    stall_seconds: float = STALL_SECONDS,
    log_path: Path | None = None,
) -> str | None:
    """Open every source (a bad file or device fails here, in one line), then serve
    them all until Ctrl-C or SIGTERM, their segments into the airplay log at ``log_path``
    if given; returns the scheduler's error, if one stopped it."""
    try:
        osc_output = OscOutput(*parse_osc_target(osc)) if osc else None
    except (ValueError, OSError) as error:
        raise SourceSpecError(str(error)) from error
    model = GenreModel.load(model_path, threads=1, prefer_gpu=prefer_gpu)
    with ExitStack() as stack:
        opened = []
        for source in sources:
            blocks, resources = open_named(source, model.card.frontend.sample_rate, stall_seconds)
            stack.enter_context(resources)
            opened.append((source.name, blocks))
        recorder = stack.enter_context(open_recorder(log_path, model.labels, model.card.frontend.column_seconds))
        scheduler = BatchScheduler(model, opened, [recorder.sink, *([osc_output.sink] if osc_output else [])], config)
        streams = {stream.name: stream for stream in scheduler.streams}

        def hello(name: str) -> dict[str, Any]:
            stream = streams[name]
            return stream.engine.hello(getattr(stream.source, "name", name))

        def make_server() -> MultiStreamServer:
            built = MultiStreamServer(scheduler, hello, server)
            feed_server(recorder, PROTOCOL_VERSION, tag_stream=True)(built)
            return built

        log.info("%d streams on %s", len(sources), model.provider)
        return asyncio.run(serve_until_stopped(make_server))
