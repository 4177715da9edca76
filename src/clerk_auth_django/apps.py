"""The Django app (``INSTALLED_APPS = [..., "clerk_auth_django"]``): registers the checks."""

from __future__ import annotations

from django.apps import AppConfig
from django.core.signals import setting_changed

__all__ = ["ClerkAuthConfig"]


class ClerkAuthConfig(AppConfig):
    """Registers the ``clerk_auth`` system checks (``manage.py check``); under
    ``override_settings``, a changed ``CLERK_*`` setting makes the default ClerkAuth anew."""

    name = "clerk_auth_django"
    label = "clerk_auth"
    verbose_name = "Clerk auth"

    def ready(self) -> None:
        from django.core.checks import register

        from ._auth import reset_default
        from ._checks import check_settings

        register(check_settings, "clerk_auth")

        setting_changed.connect(reset_default, dispatch_uid="clerk_auth_django.reset")
