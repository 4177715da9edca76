"""System checks (``manage.py check``): the ``CLERK_*`` settings, validated once."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Warning

from clerk_auth_core import ConfigurationError

from ._settings import config_from_settings, mode_from_settings, user_mapper

__all__ = ["check_settings"]


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``clerk_auth.E001``: the configuration is invalid (the message names the setting);
    ``clerk_auth.W001``: no authorized parties, so ``azp`` is not checked."""
    try:
        mode_from_settings()
        user_mapper()
        config = config_from_settings()
    except ConfigurationError as exc:
        return [
            Error(
                f"Clerk auth is misconfigured: {exc.message}",
                hint="Fix the CLERK_* setting named above (in settings or the environment).",
                id="clerk_auth.E001",
            )
        ]
    if not config.authorized_parties:
        return [
            Warning(
                "CLERK_AUTHORIZED_PARTIES is not set: a token's azp (the origin that "
                "minted it) is not checked.",
                hint="Set CLERK_AUTHORIZED_PARTIES to your front end's origin(s).",
                id="clerk_auth.W001",
            )
        ]
    return []
