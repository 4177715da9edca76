"""Django REST framework: authentication and permission classes over the core.

::

    REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["clerk_auth_django.drf.ClerkAuthentication"],
        "DEFAULT_PERMISSION_CLASSES": ["clerk_auth_django.drf.IsClerkAuthenticated"],
        "EXCEPTION_HANDLER": "clerk_auth_django.drf.exception_handler",
    }

    class Reports(APIView):
        permission_classes = [HasPermission("org:reports:read")]

:class:`ClerkAuthentication` sets ``request.user`` (a :class:`~clerk_auth_django.ClerkUser`,
or what ``CLERK_USER_MAPPER`` maps the claims to) and ``request.auth`` (the
:class:`~clerk_auth_core.SessionClaims`); with ``accepts`` naming machine kinds, a
machine token signs in as a :class:`~clerk_auth_django.ClerkMachineUser` with the
:class:`~clerk_auth_core.MachineClaims` as ``request.auth``. The permission classes
refuse with the core's answer (:class:`ClerkAuthFailed`: 401, 403, and 503/500 keep
their status), and ``authenticate_header`` gives DRF's own ``IsAuthenticated`` the
core's ``WWW-Authenticate``. Importing this module imports DRF; ``clerk_auth_django`` does not.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponseBase
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from clerk_auth_core import (
    AcceptsToken,
    ClerkAuthError,
    HttpAnswer,
    RequestState,
    Requirements,
    ReverificationConfig,
    http_answer,
)
from clerk_auth_core._flow import Accepts

from ._auth import ClerkAuth, answer_response, auth_for
from ._users import ClerkMachineUser, ClerkUser

__all__ = [
    "ClerkAuthFailed",
    "ClerkAuthentication",
    "HasFeature",
    "HasPermission",
    "HasPlan",
    "HasReverification",
    "HasRole",
    "IsClerkAuthenticated",
    "exception_handler",
]


class ClerkAuthFailed(exceptions.APIException):
    """A refusal carrying the core's answer: its status (401, 403, 503, 500, or 204 for
    a preflight), ``WWW-Authenticate`` and ``Retry-After`` (read by DRF's default
    handler) and the JSON body as ``detail``. With :func:`exception_handler` the
    response is the core's exactly (``Cache-Control: no-store`` too).

    :ivar answer: the core's answer; ``error``: the refusal (``None`` for a preflight).
    """

    def __init__(self, answer: HttpAnswer, error: ClerkAuthError | None = None) -> None:
        super().__init__(detail=dict(answer.body))
        self.status_code = answer.status
        self.answer = answer
        self.error = error
        headers = dict(answer.headers)
        self.auth_header = headers.get("WWW-Authenticate")
        retry = headers.get("Retry-After")
        self.wait = None if retry is None else int(retry)


def exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponseBase | None:
    """DRF's ``EXCEPTION_HANDLER``: a :class:`ClerkAuthFailed` becomes the core's answer
    byte for byte; anything else goes to DRF's default handler."""
    if isinstance(exc, ClerkAuthFailed):
        return answer_response(exc.answer)
    # Imported here: rest_framework.views reads Django's settings at import, and this
    # module must import before they are configured (a settings module naming it).
    from rest_framework.views import exception_handler as drf_exception_handler

    response: HttpResponseBase | None = drf_exception_handler(exc, context)
    return response


class ClerkAuthentication(BaseAuthentication):
    """``authentication_classes`` entry: a verified Clerk session token (or machine
    token, where ``accepts`` names machine kinds).

    Signed in: ``(user, claims)``; for a machine token ``(ClerkMachineUser, machine
    claims)`` (the user mapper is for sessions only). Without a valid token it returns
    ``None`` (the request is anonymous; the permission classes answer the core's
    401/403), except when the *server* is at fault (keys unavailable: 503,
    misconfigured: 500), which is raised at once so that no view, however open, hides it.

    Subclass to change ``auth`` (a :class:`~clerk_auth_django.ClerkAuth`; default: the
    middleware's, else the process's from settings), ``allow_pending`` or ``accepts``
    (the token kinds, as ``@require_auth(accepts=…)``: ``"api_key"``, a list, ``"any"``;
    default: the config's ``accepts_token``; a typo raises ``ConfigurationError`` when
    the subclass is defined). The permission classes judge the state this class got.
    """

    auth: ClerkAuth | None = None
    allow_pending: bool | None = None
    accepts: Accepts = None
    #: ``accepts`` as built when the class was defined.
    _accepted: AcceptsToken | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "accepts" in cls.__dict__:
            cls._accepted = None if cls.accepts is None else AcceptsToken(cls.accepts)

    def request_state(self, request: Request) -> RequestState:
        """The core's state for the request (computed once per request, ClerkAuth,
        ``allow_pending`` and ``accepts``)."""
        django_request = request._request
        auth = self.auth or auth_for(django_request)
        return auth.authenticate(django_request, self.allow_pending, self._accepted)

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        state = self.request_state(request)
        claims = state.claims
        if claims is not None:
            auth = self.auth or auth_for(request._request)
            mapper = auth.user_mapper
            return (ClerkUser(claims) if mapper is None else mapper(claims)), claims
        machine = state.machine
        if machine is not None:
            return ClerkMachineUser(machine), machine
        error = state.error
        if error is not None and error.status >= 500:
            (self.auth or auth_for(request._request)).log_refusal(error, request._request)
            raise ClerkAuthFailed(http_answer(error), error)
        return None

    def authenticate_header(self, request: Request) -> str:
        """The core's ``WWW-Authenticate`` for this request (DRF then answers 401)."""
        error = self.request_state(request).error
        if error is not None and error.status == 401:
            return dict(http_answer(error).headers)["WWW-Authenticate"]
        return "Bearer"


def _state(request: Request) -> RequestState:
    # The state of the Clerk authenticator that let the user in, else of the first one.
    successful = request.successful_authenticator
    if isinstance(successful, ClerkAuthentication):
        return successful.request_state(request)
    for authenticator in request.authenticators:
        if isinstance(authenticator, ClerkAuthentication):
            return authenticator.request_state(request)
    raise RuntimeError("the Clerk permission classes need ClerkAuthentication on the view")


class IsClerkAuthenticated(BasePermission):
    """A verified Clerk session (meeting :attr:`requirements`), or a machine token of a
    kind the view's :class:`ClerkAuthentication` accepts (which meets no role,
    permission, feature, plan or reverification requirement: 403); otherwise the
    core's refusal is raised (:class:`ClerkAuthFailed`). A CORS preflight is answered
    204."""

    requirements = Requirements()

    def has_permission(self, request: Request, view: Any) -> bool:
        verdict = _state(request).verdict(self.requirements)
        if verdict is not None:
            answer, error = verdict
            if error is not None:  # a preflight (None) is answered, not refused
                auth_for(request._request).log_refusal(error, request._request)
            raise ClerkAuthFailed(answer, error)
        return True


def _requiring(name: str, requirements: Requirements) -> type[IsClerkAuthenticated]:
    return type(name, (IsClerkAuthenticated,), {"requirements": requirements})


def HasRole(*roles: str) -> type[IsClerkAuthenticated]:
    """A permission class: any of these organisation roles (``"org:admin"``)."""
    return _requiring("HasRole", Requirements.of(role=roles))


def HasPermission(*permissions: str) -> type[IsClerkAuthenticated]:
    """A permission class: any of these permissions (``"org:reports:read"``)."""
    return _requiring("HasPermission", Requirements.of(permission=permissions))


def HasFeature(*features: str) -> type[IsClerkAuthenticated]:
    """A permission class: any of these features."""
    return _requiring("HasFeature", Requirements.of(feature=features))


def HasPlan(*plans: str) -> type[IsClerkAuthenticated]:
    """A permission class: any of these plans."""
    return _requiring("HasPlan", Requirements.of(plan=plans))


def HasReverification(reverification: ReverificationConfig) -> type[IsClerkAuthenticated]:
    """A permission class: a recent enough factor verification (step-up), a Clerk
    preset (``"strict"``) or ``{"level": …, "afterMinutes": N}``; refused with Clerk's
    403 ``reverification-error`` body."""
    return _requiring("HasReverification", Requirements.of(reverification=reverification))
