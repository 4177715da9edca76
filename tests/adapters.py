"""The one adapter registry every cross-adapter suite runs through (issue 13).

The conformance table and the two-instance tests (``conformance/``), the attack corpus
over HTTP (``attacks/test_corpus_http.py``), the fuzz and secrets-hygiene properties
(``fuzz/``) and the real-server suites (``servers/``, ``load/``) all take their
adapters from :data:`ADAPTERS`, through the ``adapter`` fixture of the root conftest
or these helpers. A new adapter is one entry here plus its conformance driver (and a
server app when it names a ``server``); ``test_adapter_registry.py`` fails when one of
them is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

__all__ = ["ADAPTERS", "Adapter", "SERVER_KINDS", "adapter_names", "get", "require"]


@dataclass(frozen=True)
class Adapter:
    """One adapter, as the suites know it."""

    #: The conformance driver's module name (``conformance/drivers/<name>.py``).
    name: str
    #: The module it needs; the suites skip it when that is not installed.
    framework: str | None
    #: The servers suite's kind (``servers/apps/<name>_app.py`` under that server),
    #: or ``None`` when another kind already serves its code path (FastAPI: Starlette).
    server: str | None = None


ADAPTERS: tuple[Adapter, ...] = (
    Adapter("core", None),
    Adapter("flask", "flask", server="flask-gunicorn"),
    Adapter("starlette", "starlette", server="starlette-uvicorn"),
    Adapter("fastapi", "fastapi"),
    # "django.http", not "django": without Django, tests/django imports as a namespace.
    Adapter("django", "django.http", server="django-gunicorn"),
    Adapter("drf", "rest_framework"),
)

#: The servers suite's kinds, in registry order.
SERVER_KINDS: tuple[str, ...] = tuple(a.server for a in ADAPTERS if a.server)


def adapter_names(*, core: bool = True) -> list[str]:
    """Every adapter's name (without the bare core when ``core`` is false)."""
    return [a.name for a in ADAPTERS if core or a.framework is not None]


def get(name: str) -> Adapter:
    """The adapter called ``name``."""
    for adapter in ADAPTERS:
        if adapter.name == name:
            return adapter
    raise KeyError(name)


def require(name: str) -> str:
    """Skip the calling test when ``name``'s framework is not installed; answer ``name``."""
    framework = get(name).framework
    if framework is not None:
        pytest.importorskip(framework)
    return name
