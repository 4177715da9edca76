"""The core is sans-I/O (STYLE.md lesson 2): no framework, no network, no threads, no clock.

Two proofs: ``clerk_auth_core`` imports in an isolated interpreter where the frameworks
cannot be imported, and an AST scan of every core module for forbidden imports.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import clerk_auth_core

CORE = Path(clerk_auth_core.__file__).parent
#: The wings of the core that may do I/O: the key providers, the test kit, the CLI.
#: Folders only: no module of the core is exempted by its name.
IO_PACKAGES = ("io", "testing", "cli")

FRAMEWORKS = ("flask", "starlette", "fastapi", "django", "rest_framework")
FORBIDDEN = (
    "flask",
    "starlette",
    "fastapi",
    "django",
    "rest_framework",
    "asgiref",
    "httpx",
    "socket",
    "threading",
    "asyncio",
    "anyio",
    "requests",
    "urllib.request",
    # The core never reads the clock: `now` is passed in.
    "time",
)


def core_modules() -> list[Path]:
    """Every module of the sans-I/O core (not the io/, testing/ and cli/ wings)."""
    out = []
    for path in sorted(CORE.rglob("*.py")):
        relative = path.relative_to(CORE)
        if relative.parts[0] in IO_PACKAGES:
            continue
        out.append(path)
    return out


def imported_names(source: str) -> set[str]:
    """Absolute module names a module imports, including ``from a import b`` as ``a.b``
    and string literals given to ``importlib.import_module`` / ``__import__``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call):
            func = node.func
            dynamic = (isinstance(func, ast.Name) and func.id == "__import__") or (
                isinstance(func, ast.Attribute) and func.attr == "import_module"
            )
            if dynamic and node.args and isinstance(node.args[0], ast.Constant):
                names.add(str(node.args[0].value))
    return names


def forbidden_in(names: set[str]) -> set[str]:
    hits = set()
    for name in names:
        for bad in FORBIDDEN:
            if name == bad or name.startswith(bad + "."):
                hits.add(bad)
    return hits


class TestImportScan:
    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            pytest.param("import time", {"time"}, id="import"),
            pytest.param("import os, socket", {"socket"}, id="import-list"),
            pytest.param("from time import monotonic", {"time"}, id="from-import"),
            pytest.param("import urllib.request", {"urllib.request"}, id="dotted"),
            pytest.param("from urllib import request", {"urllib.request"}, id="from-package"),
            pytest.param("from urllib.parse import urlsplit", set(), id="urllib-parse-ok"),
            pytest.param("def f():\n    import asyncio", {"asyncio"}, id="nested"),
            pytest.param(
                "import importlib\nimportlib.import_module('httpx')", {"httpx"}, id="dynamic"
            ),
            pytest.param("__import__('threading')", {"threading"}, id="dunder-import"),
            pytest.param("from . import time", set(), id="relative-is-ours"),
            pytest.param("import timeit, datetime", set(), id="similar-names-ok"),
            pytest.param("import starlette.requests", {"starlette"}, id="submodule"),
            pytest.param("from django.http import HttpResponse", {"django"}, id="django"),
            pytest.param("import rest_framework.views", {"rest_framework"}, id="drf"),
        ],
    )
    def test_scanner(self, source: str, expected: set[str]) -> None:
        assert forbidden_in(imported_names(source)) == expected

    def test_scan_covers_the_core(self) -> None:
        names = {path.name for path in core_modules()}
        expected = {"_tokens.py", "_claims.py", "_verify.py", "_extract.py", "_request.py"}
        assert expected | {"__init__.py", "_keys.py", "_config.py", "_json.py"} <= names

    @pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(CORE)))
    def test_no_forbidden_imports(self, path: Path) -> None:
        hits = forbidden_in(imported_names(path.read_text(encoding="utf-8")))
        assert hits == set(), f"{path.name} imports {sorted(hits)}"


_ISOLATED = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys

    BLOCKED = {frameworks!r}

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{{name}} is blocked in this test")
            return None

    sys.meta_path.insert(0, Blocker())
    {extra}
    import clerk_auth_core
    from clerk_auth_core import ClerkConfig, KeySet, authenticate_request, verify_token

    # Every module of the core imports too (io/ and testing/ may need httpx & co.).
    core = []
    for info in pkgutil.iter_modules(clerk_auth_core.__path__):
        if info.name in {IO_PACKAGES!r}:
            continue
        importlib.import_module(f"clerk_auth_core.{{info.name}}")
        core.append(info.name)

    blocked_works = True
    for name in BLOCKED:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
        else:
            blocked_works = False

    print(json.dumps({{
        "core": sorted(core),
        "blocked_works": blocked_works,
        "loaded": sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED | {{"httpx"}}),
        "isolated": bool(sys.flags.isolated),
    }}))
    """
)


def run_isolated(extra: str = "") -> subprocess.CompletedProcess[str]:
    code = _ISOLATED.format(frameworks=set(FRAMEWORKS), extra=extra, IO_PACKAGES=IO_PACKAGES)
    return subprocess.run(
        [sys.executable, "-I", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class TestImportWithoutFrameworks:
    def test_core_imports_with_frameworks_blocked(self) -> None:
        result = run_isolated()
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout.strip().splitlines()[-1])
        assert report["isolated"]
        assert report["blocked_works"]
        assert report["loaded"] == []
        assert {"_tokens", "_claims", "_verify", "_request", "_extract"} <= set(report["core"])

    @pytest.mark.parametrize("framework", FRAMEWORKS)
    def test_blocker_control(self, framework: str) -> None:
        # Control: the same interpreter fails loudly when something imports a framework.
        result = run_isolated(extra=f"import {framework}.app_stub")
        assert result.returncode != 0
        assert f"{framework} is blocked" in result.stderr
