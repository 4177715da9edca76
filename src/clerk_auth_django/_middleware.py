"""``ClerkAuthMiddleware``: authenticate every request, sync (WSGI) or async (ASGI).

It reads the request, asks the core (through :class:`ClerkAuth`, which fetches keys
only when a token passed the gate), annotates the request and passes it on; in
``reject`` mode it sends the core's answer instead. It makes no HTTP decision of its
own, and a CORS preflight always passes through (the core says so).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from clerk_auth_core import ConfigurationError, RequestState

from ._auth import AUTH_ATTRIBUTE, ClerkAuth, answer_response, default_auth
from ._settings import Mode, mode_from_settings

__all__ = ["ClerkAuthMiddleware"]

GetResponse = Callable[[HttpRequest], Any]


class ClerkAuthMiddleware:
    """Authenticate every request with a Clerk session token; ``MIDDLEWARE`` entry
    ``"clerk_auth_django.ClerkAuthMiddleware"``.

    Sets ``request.clerk_auth`` (the claims, or ``None`` signed out) and
    ``request.clerk_request_state``. Both sync- and async-capable: under ASGI it
    authenticates with the asyncio key provider, under WSGI with the threaded one.

    :param auth: the :class:`ClerkAuth` to use; by default the process's, from
        ``settings.CLERK_*`` (validated when the middleware loads: at start-up).
    :param mode: ``"annotate"`` (default, or ``CLERK_AUTH_MODE``) lets every request
        through and routes decide (``@require_auth``, DRF permissions); ``"reject"``
        answers the core's 401/503 itself for every signed-out request.
    """

    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: GetResponse,
        *,
        auth: ClerkAuth | None = None,
        mode: Mode | None = None,
    ) -> None:
        self.get_response = get_response
        self.auth = default_auth() if auth is None else auth
        self.mode = mode_from_settings() if mode is None else mode
        if self.mode not in ("annotate", "reject"):
            raise ConfigurationError("mode must be 'annotate' or 'reject'.")
        self._reject = self.mode == "reject"
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self._async:
            return self.__acall__(request)
        setattr(request, AUTH_ATTRIBUTE, self.auth)  # for route guards downstream
        state = self.auth.authenticate(request)
        if self._reject:
            answer = state.answer()
            if answer is not None:
                self._log(state, request)
                return answer_response(answer)
        return self.get_response(request)

    def _log(self, state: RequestState, request: HttpRequest) -> None:
        if state.error is not None:
            self.auth.log_refusal(state.error, request)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        setattr(request, AUTH_ATTRIBUTE, self.auth)
        state = await self.auth.aauthenticate(request)
        if self._reject:
            answer = state.answer()
            if answer is not None:
                self._log(state, request)
                return answer_response(answer)
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
        return await get_response(request)
