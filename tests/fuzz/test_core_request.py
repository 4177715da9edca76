"""Properties of the core's whole request path (``authenticate_request``,
``authenticate_with``): headers in every input form, raw bytes, mutated and re-signed
tokens. Only documented outcomes, the exact reason wherever the oracle knows it, no
key lookup before the gate, and nothing presented ever echoed or logged."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from clerk_auth_core import (
    REASONS,
    KeySet,
    Reason,
    RequestState,
    TokenVerificationError,
    authenticate_request,
    authenticate_with,
    extract_token,
    parse_token,
)

from .harness import FUZZ, World, assert_no_leak, now, watchdog
from .strategies import (
    UNKNOWN,
    Req,
    exact_requests,
    header_lists,
    mutated_requests,
)

FORMS = st.sampled_from(["pairs", "dict", "bytes-pairs", "bytes-dict"])
METHODS = st.sampled_from(["GET", "GET", "POST", "OPTIONS", "options", "HEAD"]) | st.none()


def as_form(headers: list[tuple[str, str]], form: str) -> Any:
    if form.startswith("bytes"):
        encoded = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers]
        return encoded if form == "bytes-pairs" else dict(encoded)
    return headers if form == "pairs" else dict(headers)


def check_state(state: RequestState, req: Req, world: World, logs: str) -> None:
    """What any state must satisfy, whatever was sent."""
    if state.signed_in:
        assert state.claims is not None
        genuine = world.genuine.get(state.token or "")
        if genuine is not None:
            assert state.claims.user_id == genuine.sub
            assert not genuine.pending
        else:
            # Only a token the oracle called valid (a re-signed one) may sign in.
            assert req.resigned_sub is not None, "signed in with a token nobody minted"
            assert state.claims.user_id == req.resigned_sub
    elif state.status == "signed-out":
        assert state.error is not None
        assert state.reason in REASONS
        assert state.error.status == REASONS[state.reason].status
        answer = state.answer()
        assert answer is not None
        for token in req.tokens:
            assert_no_leak(token, answer.body_bytes.decode(), repr(answer.headers))
            assert_no_leak(token, str(state.error), repr(state.error), repr(state))
    else:
        assert state.is_preflight
    for token in req.tokens:
        assert_no_leak(token, logs)


@FUZZ
@given(data=st.data())
def test_exact_outcomes(
    data: st.DataObject, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Genuine and re-signed tokens (header or claims changed), as a Bearer header or a
    cookie, in every header form: exactly the spec's reason."""
    t = now()
    req = data.draw(exact_requests(world, t))
    headers = as_form(req.headers, data.draw(FORMS))
    caplog.clear()
    with caplog.at_level(logging.DEBUG), watchdog():
        state = authenticate_request(headers, config=world.config, keys=world.keys, now=t)
    event(f"expect={req.expect}")
    assert (None if state.signed_in else state.reason) == req.expect
    check_state(state, req, world, caplog.text)


@FUZZ
@given(data=st.data())
def test_any_request(data: st.DataObject, world: World, caplog: pytest.LogCaptureFixture) -> None:
    """Mutated genuine tokens and raw header lists: documented outcomes only; signed in
    only with a genuine token; a token whose signed bytes are a genuine token's but is
    not that token is a false signature."""
    req = data.draw(st.one_of(mutated_requests(world), header_lists(world)))
    method = data.draw(METHODS)
    headers = as_form(req.headers, data.draw(FORMS))
    caplog.clear()
    with caplog.at_level(logging.DEBUG), watchdog():
        state = authenticate_request(
            headers, config=world.config, keys=world.keys, now=now(), method=method
        )
    assert req.expect is UNKNOWN
    event(f"outcome={state.reason if state.error else state.status}")
    check_state(state, req, world, caplog.text)
    if state.signed_in:
        assert state.token in req.genuine
    _check_malleability(req, state, world)


def _check_malleability(req: Req, state: RequestState, world: World) -> None:
    """A token that passes the gate, signs the same bytes as a genuine token, but is
    not it: the only difference is the signature, which must then be false."""
    # SESSION_TOKEN_AND_UAT_MISSING: the token never reached the verifier (e.g. a bare
    # ``Cookie: Bearer <token>`` names no ``__session`` cookie), so nothing to compare.
    if (
        len(req.tokens) != 1
        or state.signed_in
        or state.reason
        in (
            None,
            Reason.TOKEN_INVALID,
            Reason.SESSION_TOKEN_AND_UAT_MISSING,
        )
    ):
        return
    token = req.tokens[0]
    try:
        parsed = parse_token(token)
    except TokenVerificationError:
        return
    originals = {g.rpartition(".")[0]: g for g in world.genuine}
    original = originals.get(parsed.signing_input.decode())
    if original is not None and original != token and state.reason != Reason.SESSION_PENDING:
        assert state.reason in (
            Reason.TOKEN_INVALID_SIGNATURE,
            Reason.SESSION_TOKEN_BUT_NO_CLIENT_UAT,
            Reason.CLIENT_UAT_BUT_NO_SESSION_TOKEN,
        ), state.reason


@FUZZ
@given(
    name=st.sampled_from([b"authorization", b"cookie", b"Authorization"]),
    prefix=st.sampled_from([b"", b"Bearer ", b"__session=", b"__client_uat=1; __session="]),
    raw=st.binary(max_size=200),
)
def test_raw_bytes(name: bytes, prefix: bytes, raw: bytes, world: World) -> None:
    """Token bytes straight off the wire (any octets, not UTF-8): a state, never a crash."""
    with watchdog():
        state = authenticate_request(
            [(name, prefix + raw)], config=world.config, keys=world.keys, now=now()
        )
    assert not state.signed_in
    assert state.reason in REASONS


class CountingSource:
    def __init__(self, keys: KeySet) -> None:
        self.keys = keys
        self.calls = 0

    def get_keys(self, kid: str | None) -> KeySet:
        self.calls += 1
        return self.keys


def _passes_gate(headers: Any, world: World) -> bool:
    try:
        found = extract_token(headers, cookie_suffix=world.config.session_cookie_suffix)
        if found is None:
            return False
        parse_token(found.token)
    except TokenVerificationError:
        return False
    return True


@FUZZ
@given(data=st.data())
def test_keys_are_asked_for_only_past_the_gate(data: st.DataObject, world: World) -> None:
    """``authenticate_with`` asks its key source exactly when a token was found and
    passed the gate (key-rotation.md "Tokens before keys"), and agrees with
    ``authenticate_request``."""
    t = now()
    req = data.draw(
        st.one_of(exact_requests(world, t), mutated_requests(world), header_lists(world))
    )
    headers = as_form(req.headers, data.draw(FORMS))
    source = CountingSource(world.keys)
    with watchdog():
        state = authenticate_with(source, headers, config=world.config, now=t)
        direct = authenticate_request(headers, config=world.config, keys=world.keys, now=t)
    assert source.calls == (1 if _passes_gate(headers, world) else 0)
    assert (state.status, state.reason) == (direct.status, direct.reason)
    if req.expect is not UNKNOWN:
        assert (None if state.signed_in else state.reason) == req.expect
