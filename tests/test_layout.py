"""The house's rooms, read from the source with ``ast``: no import loop, dependencies pointing one way, small files.

Every ``import`` counts, at module level or inside a function (a lazy import still ties two modules together).
The rules are the ones each package's ``__init__.py`` states.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from support import REPO

PACKAGES = ("stream", "model", "training")
MAX_LINES = 400

# stream/'s rooms, and the rooms (besides itself and stream/'s shared root modules) each may import
STREAM_ALLOWED = {
    "sources": set(),
    "engine": {"sources"},
    "segments": {"sources", "engine"},
    "serve": {"sources", "engine", "segments"},
    "tag": {"sources", "engine", "segments"},
    "cover": {"sources", "engine"},
    "cli": {"sources", "engine", "segments", "serve", "tag", "cover"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(("genrescope", *parts)).removesuffix(".__init__")


def package_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((REPO / package).rglob("*.py"))}


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The genrescope modules ``path`` imports anywhere in its body; ``from X import Y`` names X.Y where Y is one."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name in known}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = package_modules()
    return {name: imported_modules(path, set(modules)) - {name} for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import loop as a path that ends where it starts, or None (depth-first, colouring the modules)."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                return path[path.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[module] = "done"
        path.pop()
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def test_the_checker_finds_a_loop_and_reads_imports_inside_functions(tmp_path: Path) -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None
    source = tmp_path / "m.py"
    source.write_text("import os\n\ndef f():\n    from genrescope.stream import outputs\n")
    assert imported_modules(source, {"genrescope.stream", "genrescope.stream.outputs"}) == {
        "genrescope.stream",
        "genrescope.stream.outputs",
    }


def test_no_import_loop(graph: dict[str, set[str]]) -> None:
    assert len(graph) > 90  # every module was read
    assert find_cycle(graph) is None


def room(module: str) -> tuple[str, str]:
    """``genrescope.stream.engine.multi`` -> ("stream", "engine"); a module at stream/'s root -> ("stream", "")."""
    parts = module.split(".")[1:]
    in_room = len(parts) > 2 or (len(parts) == 2 and (REPO / parts[0] / parts[1]).is_dir())
    return parts[0], parts[1] if in_room else ""


def test_stream_rooms_import_only_the_rooms_below(graph: dict[str, set[str]]) -> None:
    wrong = []
    for module, targets in graph.items():
        top, own = room(module)
        if top != "stream" or not own:
            continue
        for target in targets:
            target_top, target_room = room(target)
            if target_top == "stream" and target_room not in {own, "", *STREAM_ALLOWED[own]}:
                wrong.append(f"{module} -> {target}")
            if target_top == "training" and own != "cli":
                wrong.append(f"{module} -> {target}")
    assert not wrong, "upward imports:\n" + "\n".join(sorted(wrong))


def test_stream_shared_modules_and_the_model_import_nothing_above_them(graph: dict[str, set[str]]) -> None:
    wrong = [
        f"{module} -> {target}"
        for module, targets in graph.items()
        for target in targets
        if (room(module) == ("stream", "") and module != "genrescope.stream" and target.startswith("genrescope."))
        or (room(module)[0] == "model" and room(target)[0] in {"stream", "training"})
    ]
    assert not wrong, "\n".join(sorted(wrong))


def test_every_room_says_what_it_is_for_and_what_it_may_import() -> None:
    for package in PACKAGES:
        for init in (REPO / package).rglob("__init__.py"):
            doc = ast.get_docstring(ast.parse(init.read_text())) or ""
            assert "import" in doc.lower() and len(doc.splitlines()) >= 2, (
                f"{init.relative_to(REPO)} lacks its two lines"
            )


def test_stream_holds_rooms_and_a_few_shared_modules() -> None:
    loose = sorted(p.name for p in (REPO / "stream").glob("*.py") if p.name != "__init__.py")
    assert len(loose) <= 3, loose


def test_no_source_file_over_the_limit() -> None:
    files = [
        p
        for folder in (*PACKAGES, "tests", "bench", "beetsplug", "scripts", "examples")
        for p in (REPO / folder).rglob("*.py")
    ] + [REPO / "__init__.py"]
    long = {str(p.relative_to(REPO)): n for p in files if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"over {MAX_LINES} lines: {long}"
