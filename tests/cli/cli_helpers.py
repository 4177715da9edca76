"""Types shared by the command-line tests (a module of its own: ``conftest`` is not
importable by name when several test folders have one)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["CLI", "Mint", "Run", "Verify"]


@dataclass(frozen=True)
class Run:
    """One run of ``clerk-auth``: exit code, stdout, stderr."""

    code: int
    out: str
    err: str

    @property
    def both(self) -> str:
        return self.out + self.err


#: ``cli(*argv, env=..., stdin=...) -> Run``
CLI = Callable[..., Run]
#: ``mint(*extra) -> token``
Mint = Callable[..., str]
#: ``verify(token, *extra, now=...) -> (exit code, JSON document, stderr)``
Verify = Callable[..., tuple[int, dict[str, Any], str]]
