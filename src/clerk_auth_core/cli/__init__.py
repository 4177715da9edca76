"""``clerk-auth``, the command line: a wing of the core, like :mod:`clerk_auth_core.io`
and :mod:`clerk_auth_core.testing`.

It verifies, decodes and mints tokens, shows an instance's keys, runs a standing mock
Clerk and signs or checks webhooks (``clerk-auth --help``). It does I/O (the JWKS over
httpx, a loopback server for ``mock``), so the verification modules never import it;
it uses the faces of ``io`` and ``testing``, never their private modules.
"""

from __future__ import annotations

from ._main import main

__all__ = ("main",)
