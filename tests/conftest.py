"""Shared fixtures: a private PulseAudio daemon (see tests/pulse.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pulse import PulseServer, serving_this_process, start_pulse, unavailable


@pytest.fixture(scope="session")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PulseServer]:
    """A running daemon whose null sink ``virt`` is the default source's sink, with
    this process's PortAudio seeing it."""
    from stream.capture import list_input_devices

    server = start_pulse(tmp_path_factory.mktemp("pulse"))
    try:
        with serving_this_process(server):
            names = {device.name for device in list_input_devices()}
            if "pulse" not in names:
                unavailable(
                    f"PortAudio sees no 'pulse' input (only {sorted(names)}); "
                    "is libasound2-plugins installed?"
                )
            yield server
    finally:
        server.stop()


@pytest.fixture
def doomed_pulse(
    pulse: PulseServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PulseServer]:
    """A second private daemon for a test to kill; this process uses it meanwhile."""
    server = start_pulse(tmp_path_factory.mktemp("doomed"))
    try:
        with serving_this_process(server):
            yield server
    finally:
        server.stop()
