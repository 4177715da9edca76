"""Fixtures for the ``clerk-auth`` command line: run it in-process, a mock issuer, keys."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from cli_helpers import CLI, Run

from clerk_auth_core.cli import main
from clerk_auth_core.testing import MockClerk


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> CLI:
    """``cli("verify", token, env={...}, stdin="...")`` runs ``clerk-auth`` in-process.

    The environment is exactly ``env`` (nothing leaks in from the machine's CLERK_*).
    """

    def run(*argv: str, env: Mapping[str, str] | None = None, stdin: str = "") -> Run:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        code = main(list(argv), env=dict(env or {}))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="module")
def clerk() -> Iterator[MockClerk]:
    """A running mock Clerk instance (module-scoped: making its key costs ~60 ms)."""
    with MockClerk() as mock:
        yield mock


@pytest.fixture
def fresh_clerk(clerk: MockClerk) -> MockClerk:
    """The shared mock, healed and with its request counts cleared."""
    clerk.reset()
    return clerk


@pytest.fixture
def backend_env(fresh_clerk: MockClerk) -> dict[str, str]:
    """The environment of a server using the mock's Backend API (secret key)."""
    return {
        "CLERK_SECRET_KEY": fresh_clerk.secret_key,
        "CLERK_API_URL": fresh_clerk.url,
        "CLERK_ISSUER": fresh_clerk.issuer,
        "CLERK_AUTHORIZED_PARTIES": fresh_clerk.origin,
    }


@pytest.fixture(scope="module")
def key_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A private key made by ``clerk-auth mint --key-file`` and its public PEM."""
    folder = tmp_path_factory.mktemp("keys")
    private = folder / "dev.pem"
    public = folder / "dev.pub.pem"
    assert main(["mint", "--key-file", str(private), "--print-pem"], env={}) == 0
    from clerk_auth_core.cli._mint import load_or_create_key
    from clerk_auth_core.testing import public_pem

    key, created = load_or_create_key(private)
    assert not created
    public.write_text(public_pem(key))
    return private, public
