"""``CLERK_*`` from ``django.conf.settings``, each falling back to the environment."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Literal, cast

from django.conf import settings
from django.utils.module_loading import import_string

from clerk_auth_core import ClerkConfig, ConfigurationError, SessionClaims
from clerk_auth_core._config import settings_from_mapping

__all__ = ["Mode", "UserMapper", "config_from_settings", "mode_from_settings", "user_mapper"]

Mode = Literal["annotate", "reject"]
#: ``CLERK_USER_MAPPER``: verified claims → the object to use as ``request.user``.
UserMapper = Callable[[SessionClaims], Any]


def config_from_settings() -> ClerkConfig:
    """The configuration from ``settings.CLERK_*``, each unset one from ``os.environ``.

    :raises ConfigurationError: for a bad value, naming the setting.
    """
    from_env = settings_from_mapping(os.environ)
    return ClerkConfig(**{**from_env, **settings_from_mapping(_clerk_settings())})


def _clerk_settings() -> dict[str, Any]:
    return {name: getattr(settings, name) for name in dir(settings) if name.startswith("CLERK_")}


def mode_from_settings() -> Mode:
    """``CLERK_AUTH_MODE``: ``"annotate"`` (the default: routes decide) or ``"reject"``."""
    mode = getattr(settings, "CLERK_AUTH_MODE", None) or os.environ.get("CLERK_AUTH_MODE")
    mode = mode or "annotate"
    if mode not in ("annotate", "reject"):
        raise ConfigurationError("CLERK_AUTH_MODE must be 'annotate' or 'reject'.")
    return cast(Mode, mode)


def user_mapper() -> UserMapper | None:
    """``CLERK_USER_MAPPER`` (a callable or its dotted path), or ``None`` when unset."""
    mapper = getattr(settings, "CLERK_USER_MAPPER", None)
    if mapper is None or mapper == "":
        return None
    if isinstance(mapper, str):
        try:
            mapper = import_string(mapper)
        except ImportError as exc:
            raise ConfigurationError(f"CLERK_USER_MAPPER: cannot import {mapper!r}.") from exc
    if not callable(mapper):
        raise ConfigurationError("CLERK_USER_MAPPER must be a callable or its dotted path.")
    return mapper  # type: ignore[no-any-return]
