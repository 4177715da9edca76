""":class:`MockClerk`: a Clerk instance on loopback, for tests.

It plays the Backend API (``GET /v1/jwks`` behind the secret key) and the Frontend
API (``GET /.well-known/jwks.json``, and ``/v1/tokens`` which mints a session token
over HTTP the way a browser's ``getToken()`` obtains one). It signs tokens with its
own RSA keys, rotates them, and can be told to misbehave (:meth:`MockClerk.set_fault`).
All setters are thread-safe: requests are answered from a snapshot taken under a lock.
"""

from __future__ import annotations

import base64
import collections
import json
import threading
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import attrs
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from clerk_auth_core._config import ClerkConfig

from ._endpoints import (
    BACKEND_JWKS_PATH,
    FAULTS,
    PUBLIC_JWKS_PATH,
    REDIRECT_TARGET_PATH,
    TOKEN_PATH,
    Fault,
    JwksSnapshot,
    not_found,
    preflight,
    serve_jwks,
    serve_token,
)
from ._machine import MACHINE_PATHS, MockMachineTokens
from ._mint import (
    REMOVE,
    Remove,
    apply_overrides,
    encode_segment,
    generate_key,
    mint_token,
    public_jwk,
    public_pem,
    random_id,
    session_claims,
)
from ._mint import sign as _sign
from ._server import LoopbackServer, Request, Response

__all__ = ["MockClerk"]

_JWKS_PATHS = (BACKEND_JWKS_PATH, PUBLIC_JWKS_PATH)


class MockClerk:
    """A fake Clerk instance: JWKS endpoints, a token endpoint, and a token minter.

    Creating one makes an RSA-2048 signing key (``kid`` ``ins_…``) but does not start
    the server; :meth:`start` does, or use it as a context manager::

        with MockClerk() as clerk:
            token = clerk.mint(sub="user_123")
            config = clerk.config()     # keys from clerk.url + "/v1/jwks"

    :param issuer: the ``iss`` to mint (default: :attr:`url`, the mock being its own
        Frontend API).
    :param origin: the default authorized party (``azp``).
    :param frontend_api: the host encoded in :attr:`publishable_key`.
    :param secret_key: the Backend API secret (default: ``sk_test_`` + random).
    :param cache_control: the JWKS ``Cache-Control`` header (default: none).
    :param private_key: the first signing key (default: a new RSA-2048 key).
    :param kid: its key id (default: ``ins_`` + random).
    :param port: the port :meth:`start` binds on ``127.0.0.1`` (default: a free one).
    """

    def __init__(
        self,
        *,
        issuer: str | None = None,
        origin: str = "http://localhost:3000",
        frontend_api: str = "clerk.mock.test",
        secret_key: str | None = None,
        private_key: RSAPrivateKey | None = None,
        kid: str | None = None,
        cache_control: str | None = None,
        port: int = 0,
    ) -> None:
        self._lock = threading.Lock()
        self._issuer = issuer
        self.origin = origin
        self.secret_key = secret_key or random_id("sk_test_", 40)
        host = f"{frontend_api}$".encode()
        self.publishable_key = "pk_test_" + base64.b64encode(host).decode().rstrip("=")
        first_kid = kid or random_id("ins_")
        #: Every private key this mock made or was given, by kid (rotated and foreign too).
        self._keys: dict[str, RSAPrivateKey] = {first_kid: private_key or generate_key()}
        self._served: list[str] = [first_kid]
        self._kid = first_kid
        self._jwks_override: bytes | None = None
        self._fault: Fault | None = None
        self._delay = 10.0
        self._cache_control = self._initial_cache_control = cache_control
        self._etag = True
        self._hits: collections.Counter[str] = collections.Counter()
        #: API keys, M2M and OAuth tokens, and the Backend API verify endpoints.
        self.machine = MockMachineTokens(self)
        self._server = LoopbackServer(self._handle, port)

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> MockClerk:
        """Start serving on ``127.0.0.1``: the constructor's port or a random one, and
        the same port again on a restart so :attr:`url` and :attr:`issuer` stay valid
        (``OSError`` if taken).

        :raises RuntimeError: when already running.
        """
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket, promptly (requests in flight are cut)."""
        self._server.stop()

    def __enter__(self) -> MockClerk:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True while the server is serving."""
        return self._server.running

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised while answering requests (bugs in the mock; each was a 500)."""
        return self._server.errors

    # -- identity -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``; available once started (and after a stop).

        :raises RuntimeError: before the first :meth:`start`.
        """
        try:
            port = self._server.port
        except RuntimeError:
            raise RuntimeError(
                "MockClerk has no URL before start(); start it, or pass issuer= to the "
                "constructor to mint tokens without a server"
            ) from None
        return f"http://127.0.0.1:{port}"

    @property
    def issuer(self) -> str:
        """The ``iss`` minted by default: the constructor's, else :attr:`url`."""
        return self._issuer if self._issuer is not None else self.url

    @property
    def jwks_url(self) -> str:
        """The public Frontend API JWKS URL (no secret key needed)."""
        return self.url + PUBLIC_JWKS_PATH

    @property
    def backend_jwks_url(self) -> str:
        """The Backend API JWKS URL (needs ``Authorization: Bearer <secret_key>``)."""
        return self.url + BACKEND_JWKS_PATH

    @property
    def token_url(self) -> str:
        """The token endpoint (``GET``/``POST``, answers ``{"jwt": …}``)."""
        return self.url + TOKEN_PATH

    @property
    def kid(self) -> str:
        """The current signing key id."""
        return self._kid

    @property
    def private_key(self) -> RSAPrivateKey:
        """The current signing key."""
        with self._lock:
            return self._keys[self._kid]

    @property
    def public_pem(self) -> str:
        """The current signing key's public half as SPKI PEM (``CLERK_JWT_KEY``)."""
        return public_pem(self.private_key)

    def private_key_for(self, kid: str) -> RSAPrivateKey:
        """The private key this mock holds for ``kid`` (current, rotated or foreign)."""
        with self._lock:
            return self._keys[kid]

    def config(self, **overrides: Any) -> ClerkConfig:
        """A :class:`ClerkConfig` fetching keys from this mock's Backend API JWKS, with
        the issuer and :attr:`origin` as the one authorized party. No publishable key
        (it would imply another issuer); ``overrides`` win."""
        settings: dict[str, Any] = {
            "secret_key": self.secret_key,
            "api_url": self.url,
            "issuer": self.issuer,
            "authorized_parties": (self.origin,),
        }
        return ClerkConfig(**{**settings, **overrides})

    def pem_config(self, **overrides: Any) -> ClerkConfig:
        """A networkless :class:`ClerkConfig` with the current public key as
        ``jwt_key``, the issuer and :attr:`origin`; ``overrides`` win. Needs no server
        when an ``issuer`` was given to the constructor."""
        settings: dict[str, Any] = {
            "jwt_key": self.public_pem,
            "issuer": self.issuer,
            "authorized_parties": (self.origin,),
        }
        return ClerkConfig(**{**settings, **overrides})

    # -- keys ---------------------------------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        """The JWKS currently served (ignoring faults and :meth:`set_jwks`)."""
        with self._lock:
            return {"keys": [public_jwk(self._keys[kid], kid) for kid in self._served]}

    def rotate(self, keep_old: bool = False, *, kid: str | None = None) -> str:
        """Make a new key the signing key and serve it; the old one stays in the JWKS
        only if ``keep_old``. Its private key is kept for ``mint(kid=old)``. Returns the
        new kid."""
        new_kid = kid or random_id("ins_")
        key = generate_key()
        with self._lock:
            self._keys[new_kid] = key
            self._served = [*self._served, new_kid] if keep_old else [new_kid]
            self._kid = new_kid
        return new_kid

    def add_foreign_key(self, kid: str = "ins_foreign") -> RSAPrivateKey:
        """Make a key this instance does not serve ("another instance's key").
        ``mint(kid=kid)`` signs with it; it is also returned for ``mint(key=...)``."""
        key = generate_key()
        with self._lock:
            self._keys[kid] = key
        return key

    def set_jwks(self, document: Mapping[str, Any] | str | bytes | None) -> None:
        """Serve exactly this JWKS body (a mapping as JSON, text or bytes as given)
        instead of the real keys; ``None`` goes back to the real keys. Faults still
        apply on top."""
        if document is None or isinstance(document, bytes):
            body = document
        elif isinstance(document, str):
            body = document.encode()
        else:
            body = json.dumps(document).encode()
        with self._lock:
            self._jwks_override = body

    # -- behaviour of the JWKS endpoints --------------------------------------------------

    def set_fault(self, fault: Fault | None, *, delay: float = 10.0) -> None:
        """Make both JWKS endpoints misbehave (``None`` heals them).

        ``down`` closes the connection without a response; ``500`` answers 500;
        ``slow`` waits ``delay`` seconds then answers normally (stop() cuts the wait);
        ``garbage`` is a 200 that is not JSON; ``oversized`` a 200 of valid-looking
        JSON over 64 KiB (``oversized-stream``: the same without ``Content-Length``);
        ``redirect`` a 302 to a URL that would serve the keys; ``empty`` ``{"keys":
        []}``; ``bad-keys`` keys that each break a key rule.
        """
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {FAULTS}")
        with self._lock:
            self._fault, self._delay = fault, delay

    @property
    def fault(self) -> Fault | None:
        """The current fault, or ``None``."""
        return self._fault

    @property
    def cache_control(self) -> str | None:
        """The ``Cache-Control`` header of JWKS responses (``None``: no header)."""
        return self._cache_control

    @cache_control.setter
    def cache_control(self, value: str | None) -> None:
        with self._lock:
            self._cache_control = value

    @property
    def etag(self) -> bool:
        """Whether JWKS responses carry an ``ETag`` and honour ``If-None-Match``."""
        return self._etag

    @etag.setter
    def etag(self, value: bool) -> None:
        with self._lock:
            self._etag = value

    def reset(self) -> None:
        """Back to good behaviour between tests: no fault, no :meth:`set_jwks` override,
        the constructor's ``cache_control``, ETags on, hits cleared. Keys are kept (a
        rotated mock stays rotated)."""
        with self._lock:
            self._fault, self._delay = None, 10.0
            self._jwks_override = None
            self._cache_control = self._initial_cache_control
            self._etag = True
            self._hits.clear()
        self.machine.reset()

    # -- request counting -----------------------------------------------------------------

    @property
    def hits(self) -> dict[str, int]:
        """Requests received, by path (a copy)."""
        with self._lock:
            return dict(self._hits)

    @property
    def jwks_hits(self) -> int:
        """Requests received on both JWKS endpoints."""
        with self._lock:
            return sum(self._hits[path] for path in _JWKS_PATHS)

    def reset_hits(self) -> None:
        """Forget the request counts."""
        with self._lock:
            self._hits.clear()

    # -- tokens -------------------------------------------------------------------------

    def mint(
        self,
        *,
        sub: str | Remove = "user_test",
        sid: str | Remove = "sess_test",
        azp: str | Remove | None = None,
        iss: str | Remove | None = None,
        iat: float | None = None,
        lifetime: float = 60,
        nbf: float | Remove | None = None,
        version: int = 1,
        org: Mapping[str, Any] | None = None,
        sts: str | None = None,
        act: Mapping[str, Any] | None = None,
        fva: Sequence[int] | None = None,
        features: Sequence[str] | str | None = None,
        plans: Sequence[str] | str | None = None,
        claims: Mapping[str, Any] | None = None,
        header: Mapping[str, Any] | None = None,
        kid: str | Remove | None = None,
        key: RSAPrivateKey | None = None,
        typ: str | None = "JWT",
        cat: str | None = None,
    ) -> str:
        """Mint a Clerk session token (spec §2), signed RS256.

        Defaults: ``azp`` = :attr:`origin`, ``iss`` = :attr:`issuer`, ``iat`` = now,
        ``exp`` = ``iat + lifetime``, ``nbf`` = ``iat - 10``. Pass :data:`REMOVE` to
        leave a claim out. ``version=2`` writes ``v``, ``o``, ``fea`` (and ``pla``) the
        way Clerk's v2 tokens do; ``org`` is ``{id, slug, role, permissions}`` either
        way. ``claims`` and ``header`` override or (with ``REMOVE``) delete members
        last. The key: ``key`` if given, else the key this mock holds for ``kid``, else
        the current one (so ``kid="ins_unknown"`` is signed by the current key).
        """
        now = int(time.time()) if iat is None else iat
        payload = session_claims(
            sub=sub,
            sid=sid,
            azp=self.origin if azp is None else azp,
            iss=self.issuer if iss is None else iss,
            iat=now,
            lifetime=lifetime,
            nbf=now - 10 if nbf is None else nbf,
            version=version,
            org=org,
            sts=sts,
            act=act,
            fva=fva,
            features=features,
            plans=plans,
        )
        apply_overrides(payload, claims)
        with self._lock:
            signing_kid = self._kid if kid is None else kid
            if key is None:
                known = self._keys.get(signing_kid) if isinstance(signing_kid, str) else None
                key = known or self._keys[self._kid]
        head: dict[str, Any] = {"alg": "RS256", "cat": cat, "kid": signing_kid, "typ": typ}
        head = {k: v for k, v in head.items() if v is not None and v is not REMOVE}
        return mint_token(key, apply_overrides(head, header), payload)

    def mint_raw(
        self,
        header: Mapping[str, Any] | str | bytes,
        payload: Mapping[str, Any] | str | bytes,
        signature: bytes | None = None,
        sign: bool = True,
        *,
        key: RSAPrivateKey | None = None,
    ) -> str:
        """Assemble a token from raw parts, for deliberately broken tokens.

        A mapping becomes compact JSON; ``str``/``bytes`` are used as they are (not JSON
        checked). The signature is ``signature`` if given, else an RS256 signature by
        ``key`` (default: the current key) if ``sign``, else empty (``h.p.``).
        """
        signing_input = f"{encode_segment(header)}.{encode_segment(payload)}"
        if signature is not None:
            return f"{signing_input}.{encode_segment(signature)}"
        if not sign:
            return f"{signing_input}."
        return f"{signing_input}.{self.sign(signing_input, key=key)}"

    def sign(self, signing_input: str | bytes, *, key: RSAPrivateKey | None = None) -> str:
        """The base64url RS256 signature of ``signing_input`` by ``key`` (default: the
        current key): for tokens whose segments you encoded yourself."""
        return _sign(key or self.private_key, signing_input)

    # -- serving ------------------------------------------------------------------------

    def _snapshot(self) -> JwksSnapshot:
        with self._lock:
            served = [public_jwk(self._keys[kid], kid) for kid in self._served]
            body = self._jwks_override
            if body is None:
                body = json.dumps({"keys": served}).encode()
            return JwksSnapshot(
                body=body,
                current_jwk=public_jwk(self._keys[self._kid], self._kid),
                fault=self._fault,
                delay=self._delay,
                cache_control=self._cache_control,
                etag=self._etag,
                secret_key=self.secret_key,
                redirect_to=self.url + REDIRECT_TARGET_PATH,
            )

    def _handle(self, request: Request, stopping: threading.Event) -> Response | None:
        with self._lock:
            self._hits[request.path] += 1
        if request.method == "OPTIONS":
            return preflight(request)
        if request.path in _JWKS_PATHS:
            needs_secret = request.path == BACKEND_JWKS_PATH
            return serve_jwks(self._snapshot(), request, stopping, needs_secret=needs_secret)
        if request.path == REDIRECT_TARGET_PATH:
            healthy = attrs.evolve(self._snapshot(), fault=None)
            return serve_jwks(healthy, request, stopping, needs_secret=False)
        if request.path == TOKEN_PATH:
            return serve_token(request, self.mint)
        if request.path in MACHINE_PATHS:
            return self.machine.serve(request, stopping)
        return not_found(request)

    def __repr__(self) -> str:
        where = self.url if self.running else "not running"
        return f"<MockClerk {where} kid={self._kid!r} fault={self._fault!r}>"
