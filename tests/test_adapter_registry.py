"""The adapter registry (tests/adapters.py) is complete: every adapter it names has
what each cross-adapter suite needs, and every driver or server app on disk is in it.

A new adapter that is missing from a suite fails here, before any suite silently runs
without it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters import ADAPTERS, SERVER_KINDS, adapter_names

TESTS = Path(__file__).resolve().parent
DRIVERS = TESTS / "conformance" / "drivers"
SERVER_APPS = TESTS / "servers" / "apps"


@pytest.mark.parametrize("name", adapter_names())
def test_every_adapter_has_a_conformance_driver(name: str) -> None:
    # Read as text: the check needs no framework installed.
    source = (DRIVERS / f"{name}.py").read_text(encoding="utf-8")
    assert "\ndef serve(" in source
    if name != "core":
        # The two-instance tests and the in-process fuzz apps need these too.
        assert "\ndef serve_pair(" in source
        assert "\ndef make_app(" in source


def test_every_driver_on_disk_is_registered() -> None:
    on_disk = {p.stem for p in DRIVERS.glob("*.py") if p.stem != "__init__"}
    assert on_disk == set(adapter_names())


def test_every_server_kind_has_an_app_and_a_command() -> None:
    harness = (TESTS / "servers" / "harness.py").read_text(encoding="utf-8")
    for adapter in ADAPTERS:
        if adapter.server is None:
            continue
        assert (SERVER_APPS / f"{adapter.name}_app.py").exists(), adapter
        assert f'"{adapter.server}"' in harness, adapter  # its command and its banner
    apps = {p.stem.removesuffix("_app") for p in SERVER_APPS.glob("*_app.py")}
    assert apps == {a.name for a in ADAPTERS if a.server}


def test_the_suites_read_the_registry() -> None:
    # Each cross-adapter suite takes its list from the registry, not a copy.
    from conformance.drivers import DRIVERS as conformance_drivers
    from fuzz.apps import ADAPTERS as fuzz_adapters
    from servers.harness import KINDS

    assert list(conformance_drivers) == adapter_names()
    assert list(fuzz_adapters) == adapter_names()
    assert KINDS == SERVER_KINDS
    for suite in ("conformance/test_conformance.py", "attacks/test_corpus_http.py"):
        assert "def driver(adapter: str)" in (TESTS / suite).read_text(encoding="utf-8")
    assert "def driver(framework_adapter: str)" in (
        TESTS / "conformance" / "test_instances.py"
    ).read_text(encoding="utf-8")
