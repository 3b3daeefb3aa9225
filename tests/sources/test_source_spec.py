"""One source syntax everywhere: every command parses a source with stream/sources/spec.py
(the refusals through the real CLI are in tests/cli/test_source_options.py)."""

from __future__ import annotations

import pytest

from genrescope.stream.serve.serve_many import named_sources
from genrescope.stream.sources.spec import SourceSpec, SourceSpecError, parse_source_spec


@pytest.mark.parametrize(
    "text, spec",
    [
        ("demo", SourceSpec("demo")),
        ("mic", SourceSpec("mic")),
        ("mic:pulse", SourceSpec("mic", "pulse")),
        ("mic:3", SourceSpec("mic", "3")),
        ("./mic", SourceSpec("file", "./mic")),
        ("HTTPS://r.example/live.mp3", SourceSpec("network", "HTTPS://r.example/live.mp3")),
        ("loop:a b.mp3", SourceSpec("file", "a b.mp3", loop=True)),
        ("song.flac", SourceSpec("file", "song.flac")),
    ],
)
def test_a_spec_means_one_thing(text: str, spec: SourceSpec) -> None:
    assert parse_source_spec(text) == spec


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "an empty source"),
        ("ftp://x.example/a.mp3", "only http:// and https://"),
        ("loop:demo", "loop applies to files only"),
        ("loop:https://x.example/a", "loop applies to files only"),
    ],
)
def test_a_bad_spec_says_what_to_write(text: str, words: str) -> None:
    with pytest.raises(SourceSpecError, match=words):
        parse_source_spec(text)


def test_the_file_command_reads_words_as_file_names_and_refuses_streams() -> None:
    assert parse_source_spec("mic", files_only=True) == SourceSpec("file", "mic")
    with pytest.raises(SourceSpecError, match="serve --source URL"):
        parse_source_spec("http://u:secret@r.example/a.mp3", files_only=True)


def test_device_reaches_every_named_mic_that_names_none() -> None:
    sources = named_sources(["room=mic", "hall=mic:2", "radio=https://r.example/a.mp3"], None, "USB")
    assert [source.source for source in sources] == [
        SourceSpec("mic", "USB"),
        SourceSpec("mic", "2"),
        SourceSpec("network", "https://r.example/a.mp3"),
    ]
