"""Files replaced whole or not at all (stream/outputs.py): a failure, an interrupt or a
killed process leaves the old file; a new file gets the mode ``open`` would give it, a
changed one keeps its mode and its link. And the class: every file stream/, training/,
model/ and the beets plugin write goes through it, read from the source with ``ast``, so
that the next command that writes a file cannot forget."""

from __future__ import annotations

import ast
import os
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from genrescope.stream.outputs import TEMP_SUFFIX, changed_whole, written_whole
from support import REPO

SCANNED = ("stream", "training", "model", "beetsplug")
WHOLE = {"written_whole", "replacing", "changed_whole"}  # a write inside their `with` is whole
WRITERS = {"write_text", "write_bytes", "savefig", "save", "savez", "savez_compressed", "write_table", "to_csv"}
SAVE_MODULES = {"torch", "np", "numpy", "onnx"}  # their .save: a generic .save is somebody's method (mutagen's)
# Writes that are not a file replaced whole, each for its reason: (file, function, call)
ALLOWED = {
    ("stream/outputs.py", "held_alone", "open"): "a lock file, which names its holder and nothing else",
    ("stream/checks.py", "output_file", "open"): "a probe whether the path can be written, which changes nothing",
    ("stream/checks.py", "open_jsonl", "open"): "JSON lines as the run goes (a reader follows them): a last line cut",
    ("stream/segments/report_render.py", "html_page", "savefig"): "the plot as SVG text in memory, for the page",
    ("training/genre/train.py", "fit", "open"): "history.jsonl, appended an epoch at a time: old lines never change",
    ("training/genre/fourq.py", "build_fourq", "write_bytes"): "each preview into a temporary folder, for FFmpeg",
    ("model/genre/export.py", "export_onnx", "save"): "model/ imports nothing above it: its callers hand it a copy",
    ("model/genre/card.py", "update_metadata", "save"): "model/ imports nothing above it: its callers hand it a copy",
}


def test_a_failure_inside_leaves_the_file_and_no_copy(tmp_path):
    path = tmp_path / "report.html"
    path.write_text("yesterday's report")
    with pytest.raises(KeyboardInterrupt), written_whole(path) as out:
        out.write("half of today's")
        raise KeyboardInterrupt
    with pytest.raises(OSError), changed_whole(path) as copy:
        copy.write_text("half changed")
        raise OSError("disk full")
    assert path.read_text() == "yesterday's report" and list(tmp_path.iterdir()) == [path]


def test_a_change_keeps_the_mode_and_the_link(tmp_path):
    target = tmp_path / "song.flac"
    target.write_bytes(b"old")
    target.chmod(0o640)
    link = tmp_path / "link.flac"
    link.symlink_to(target)
    with changed_whole(link) as copy:
        assert copy.parent == tmp_path and copy.name.endswith(TEMP_SUFFIX) and copy.read_bytes() == b"old"
        copy.write_bytes(b"new")
    assert link.is_symlink() and target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o640 and sorted(tmp_path.iterdir()) == [link, target]


def test_a_new_file_gets_the_mode_open_would_give_it(tmp_path):
    previous = os.umask(0o027)
    try:
        with written_whole(tmp_path / "segments.csv") as out:
            out.write("start_s,end_s\n")
        (tmp_path / "plain.csv").write_text("x")
    finally:
        os.umask(previous)
    modes = {name: (tmp_path / name).stat().st_mode & 0o777 for name in ("segments.csv", "plain.csv")}
    assert modes == {"segments.csv": 0o640, "plain.csv": 0o640}


def test_a_pipe_is_written_through_and_stays_a_pipe(tmp_path):
    """Not a regular file (a named pipe here; /dev/stdout or /dev/null for a user): written
    as it is, never replaced by a file (as root, replacing /dev/null would succeed)."""
    fifo = tmp_path / "plot.png"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    with written_whole(fifo, "wb") as out:
        out.write(b"\x89PNG")
    reader.join(10)
    assert received == [b"\x89PNG"] and stat.S_ISFIFO(fifo.stat().st_mode) and list(tmp_path.iterdir()) == [fifo]


def test_a_killed_writer_leaves_the_old_file(tmp_path):
    """A real process SIGKILLed in the middle of its write (nothing of it can clean up)."""
    path = tmp_path / "metrics.json"
    path.write_text('{"accuracy": 0.6}\n')
    writer = (
        "import sys, time\n"
        "from genrescope.stream.outputs import written_whole\n"
        "with written_whole(sys.argv[1]) as out:\n"
        "    out.write('{\"accur'); out.flush(); print('writing', flush=True); time.sleep(60)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", writer, str(path)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "writing\n"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert path.read_text() == '{"accuracy": 0.6}\n'
    left = [p.name for p in tmp_path.iterdir() if p != path]  # only its hidden copy, named for what it was
    assert all(name.startswith(".metrics.json.") and name.endswith(TEMP_SUFFIX) for name in left)


def _with_whole(node: ast.With) -> bool:
    return any(
        isinstance(item.context_expr, ast.Call)
        and (getattr(item.context_expr.func, "id", None) or getattr(item.context_expr.func, "attr", None)) in WHOLE
        for item in node.items
    )


def _writes(call: ast.Call) -> bool:
    """Whether ``call`` writes a file: open() for writing, or a known writer."""
    func = call.func
    if isinstance(func, ast.Name) and func.id == "open":
        mode = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg == "mode"), None)
        return isinstance(mode, ast.Constant) and any(letter in str(mode.value) for letter in "wax+")
    if not isinstance(func, ast.Attribute) or func.attr not in WRITERS:
        return False
    if func.attr in {"save", "savez", "savez_compressed"}:
        return isinstance(func.value, ast.Name) and func.value.id in SAVE_MODULES
    return True


def _name(call: ast.Call) -> str:
    return getattr(call.func, "id", None) or getattr(call.func, "attr", "")


def unguarded_writes(path: Path) -> list[tuple[str, str, int]]:
    """Every file write in ``path`` outside a ``with`` of stream/outputs.py: (function,
    the call's name, line)."""
    found: list[tuple[str, str, int]] = []

    def visit(node: ast.AST, function: str, guarded: bool) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function, guarded = node.name, False
        if isinstance(node, ast.With) and _with_whole(node):
            guarded = True
        if isinstance(node, ast.Call) and _writes(node) and not guarded:
            found.append((function, _name(node), node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child, function, guarded)

    visit(ast.parse(path.read_text(), str(path)), "<module>", False)
    return found


def test_every_file_written_is_replaced_whole():
    unguarded = {
        f"{path.relative_to(REPO)}:{line} {call}() in {function}()"
        for folder in SCANNED
        for path in sorted((REPO / folder).rglob("*.py"))
        for function, call, line in unguarded_writes(path)
        if (str(path.relative_to(REPO)), function, call) not in ALLOWED
    }
    assert not unguarded, f"written in place (use stream/outputs.py): {sorted(unguarded)}"


def test_the_check_finds_a_write_in_place(tmp_path):
    source = tmp_path / "module.py"
    source.write_text(
        "def report(path, text, fig, torch, np, out):\n"
        "    path.write_text(text)\n"
        "    fig.savefig(path)\n"
        "    with open(path, 'w') as handle:\n"
        "        handle.write(text)\n"
        "    with written_whole(path, 'wb') as out:\n"
        "        torch.save({}, out)\n"
        "    np.savez(path, a=1)\n"
        "    open(path).read()\n"
    )
    assert unguarded_writes(source) == [
        ("report", "write_text", 2),
        ("report", "savefig", 3),
        ("report", "open", 4),
        ("report", "savez", 8),
    ]
