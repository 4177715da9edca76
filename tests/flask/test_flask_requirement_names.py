"""Issue 16: ``@require_auth(permission="reports:read")`` (no ``org:``) and other names
Clerk cannot issue fail at decoration; a 403 names what the route required."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from clerk_auth_core import ClerkConfig, ConfigurationError
from clerk_auth_core.testing import MockClerk
from clerk_auth_flask import ClerkAuth, require_auth


@pytest.mark.parametrize(
    "requirement",
    [{"permission": "reports:read"}, {"role": "reports:read"}, {"plan": "o:pro"}, {"role": []}],
)
def test_a_typo_fails_at_decoration(requirement: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError) as info:
        require_auth(**requirement)
    assert "cannot be a Clerk" in info.value.message or "requires nothing" in info.value.message


def test_the_403_names_what_was_required(pem_config: ClerkConfig, idle_clerk: MockClerk) -> None:
    app = Flask(__name__)
    ClerkAuth(app, config=pem_config)
    app.get("/reports")(require_auth(permission="org:reports:read")(lambda: "ok"))
    token = idle_clerk.mint(org={"id": "org_1", "role": "member", "permissions": []})
    response = app.test_client().get("/reports", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json is not None
    assert response.json["required"] == {"permissions": ["org:reports:read"]}
