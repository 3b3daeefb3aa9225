"""The process's standard output, shared by the CLI and the servers: ending quietly when its reader leaves.

A room of its own because every layer that writes JSON lines to stdout needs it; it imports nothing of genrescope.
"""

from __future__ import annotations

import os
import sys


def quiet_broken_pipe() -> int:
    """After stdout's reader went away (``genrescope ... | head``): end quietly, as Unix
    tools do. stdout is pointed at /dev/null so Python's own flush at exit does not fail
    again; the status is the shell's for a process ended by SIGPIPE."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 128 + 13
