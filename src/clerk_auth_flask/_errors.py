"""The exception ``@require_auth`` raises: the core's HTTP answer as a werkzeug error."""

from __future__ import annotations

from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from clerk_auth_core import ClerkAuthError, HttpAnswer

__all__ = ["ClerkAuthFailed"]


class ClerkAuthFailed(HTTPException):
    """The request may not run the view: 401, 403, 503 (or 500 for a misconfigured server).

    Status, headers (``WWW-Authenticate``, ``Retry-After``, ``Cache-Control``) and the
    JSON body all come from the core's :class:`~clerk_auth_core.HttpAnswer`; this class
    only turns them into a response. Answer differently with
    ``@app.errorhandler(ClerkAuthFailed)`` or ``ClerkAuth(on_error=...)``.

    :ivar answer: the core's answer.
    :ivar error: why the request was refused (an ``AuthorizationError`` for a 403:
        signed in, but a requirement is not met).
    """

    def __init__(self, answer: HttpAnswer, error: ClerkAuthError | None = None) -> None:
        super().__init__(description=answer.body.get("message"))
        self.code = answer.status
        self.answer = answer
        self.error = error

    def get_response(self, environ: Any = None, scope: Any = None) -> Response:
        """The JSON response the core decided on."""
        return Response(
            self.answer.body_bytes,
            status=self.answer.status,
            headers=list(self.answer.headers),
        )
