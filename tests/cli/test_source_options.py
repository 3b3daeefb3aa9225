"""An option that cannot apply to the sources given is refused in one line (exit 2), not
ignored, and a source is shown redacted in the error (stream/sources/spec.py)."""

from __future__ import annotations

import pytest
from test_bad_input import assert_clear_error

from support import run_cli


@pytest.mark.parametrize(
    "args, words",
    [
        (["serve", "--source", "demo", "--device", "3"], "--device applies to a mic source"),
        (["serve", "--source", "a=mic:1", "--source", "b=demo", "--device", "2"], "--device applies to a mic source"),
        (["serve", "--source", "demo", "--stall-seconds", "3"], "--stall-seconds applies to radio streams"),
        (["serve", "--source", "demo", "--exit-at-end"], "--exit-at-end: no source here ends"),
        (["serve", "--source", "a=loop:x.mp3", "--source", "b=mic", "--exit-at-end"], "--exit-at-end: no source"),
        (["serve", "--source", "ftp://r.example/live"], "only http:// and https://"),
        (["file", "https://user:secret@r.example/live.mp3"], "https://***@r.example/live.mp3 is a radio stream"),
        (["tag", "http://user:secret@r.example/a.mp3"], "http://***@r.example/a.mp3 is a radio stream"),
    ],
)
def test_options_that_cannot_apply_are_refused_in_one_line(args: list[str], words: str) -> None:
    result = run_cli(*args)
    assert_clear_error(result, words)
    assert "secret" not in result.stderr
