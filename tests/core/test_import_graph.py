"""The shape of the house (issue 13): the import graph of ``src/`` has no circle, and
nothing imports upwards.

Every import counts, at any depth of the module and under ``TYPE_CHECKING`` too (a
circle of type-only imports is still a circle a reader must untangle). The floors,
lowest first: the sans-I/O core (``clerk_auth_core``'s own modules); its I/O wings
``io`` and ``testing``; the ``cli`` wing; the adapters, which never import each other
(FastAPI's face lives in the Starlette package).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return out


MODULES = _modules()


def _imports(name: str) -> set[str]:
    path, is_package = MODULES[name]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = name.split(".") if is_package else name.split(".")[:-1]
            if node.level:
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            submodules = {f"{target}.{a.name}" for a in node.names} & set(MODULES)
            # ``from . import _x`` imports the submodule, not (for this graph) the package.
            found.update(submodules or {target})
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name) for name in MODULES}


def _floor(name: str) -> int:
    parts = name.split(".")
    if parts[0] != "clerk_auth_core":
        return 3  # an adapter
    if len(parts) > 1 and parts[1] == "cli":
        return 2
    if len(parts) > 1 and parts[1] in ("io", "testing"):
        return 1
    return 0


def test_no_circle() -> None:
    circles = []
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == 1:
                circles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(GRAPH):
        if node not in state:
            visit(node)
    assert circles == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_nothing_imports_upwards(name: str) -> None:
    upward = {m for m in GRAPH[name] if _floor(m) > _floor(name)}
    if name == "clerk_auth_core.__main__":
        upward -= {"clerk_auth_core.cli"}  # the console script's entry point
    assert upward == set()


def test_adapters_never_import_each_other() -> None:
    for name, imported in GRAPH.items():
        top = name.split(".")[0]
        if top == "clerk_auth_core":
            continue
        assert {m.split(".")[0] for m in imported} <= {top, "clerk_auth_core"}, name


def test_the_graph_is_read() -> None:
    # Not vacuous: the scan sees the imports that are there.
    assert "clerk_auth_core._claims" in GRAPH["clerk_auth_core._config"]
    assert "clerk_auth_core._bounded" in GRAPH["clerk_auth_core._cache"]
    assert "clerk_auth_core.io" in GRAPH["clerk_auth_core.cli._jwks"]
