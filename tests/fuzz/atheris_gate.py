"""Coverage-guided fuzz target (atheris / libFuzzer) for the token gate and cookies.

Three targets, chosen by the input's first byte:

- ``parse_token``: only ``TokenVerificationError`` with a gate reason may come out;
  an accepted token is ASCII, at most 8 KiB, ``alg`` RS256, a safe ``kid``, JSON
  objects, no forbidden header member, and every segment is the *canonical* encoding
  of its decoded bytes (no second spelling of a signed token gets through);
- ``parse_cookies``: names are non-empty and free of whitespace, quotes, commas and
  backslashes; each value came from the input; the first of duplicate names wins;
- ``extract_token`` over an ``Authorization`` and a ``Cookie`` header: a token, no
  token, or a ``TokenVerificationError`` with a request reason.

Run (see docs/fuzzing.md)::

    python tests/fuzz/atheris_gate.py --runs 100000
    python tests/fuzz/atheris_gate.py -max_total_time=600 -jobs=4 fuzz-corpus/
    python tests/fuzz/atheris_gate.py --make-seeds fuzz-corpus/   # gate-passing seeds only
    python tests/fuzz/atheris_gate.py --seeds fuzz-corpus/ --runs 20000  # both at once

Any other ``-flag=value`` is libFuzzer's. A crash leaves ``crash-<sha1>`` (or under
``-artifact_prefix=``); replay it with ``python tests/fuzz/atheris_gate.py crash-…``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["clerk_auth_core"]):
    from clerk_auth_core import (
        Reason,
        TokenVerificationError,
        extract_token,
        parse_cookies,
        parse_token,
    )
    from clerk_auth_core._tokens import FORBIDDEN_HEADER_MEMBERS, KID_PATTERN

GATE_REASONS = {Reason.TOKEN_INVALID, Reason.TOKEN_INVALID_ALGORITHM, Reason.TOKEN_TYPE_MISMATCH}
REQUEST_REASONS = {
    Reason.TOKEN_INVALID,
    Reason.SESSION_TOKEN_BUT_NO_CLIENT_UAT,
    Reason.CLIENT_UAT_BUT_NO_SESSION_TOKEN,
}
BAD_NAME_CHARS = set(' \t",\\')


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _refusal(error: TokenVerificationError) -> str:
    return error.reason


def check_gate(token: str, kid_required: bool) -> None:
    try:
        parsed = parse_token(token, kid_required=kid_required)
    except TokenVerificationError as exc:
        reason = _refusal(exc)
        assert reason in GATE_REASONS, reason
        return
    assert token.isascii()
    assert len(token) <= 8192
    assert parsed.alg == "RS256"
    assert parsed.kid is None or KID_PATTERN.fullmatch(parsed.kid)
    assert parsed.kid is not None or not kid_required
    assert isinstance(parsed.header, dict)
    assert isinstance(parsed.payload, dict)
    assert FORBIDDEN_HEADER_MEMBERS.isdisjoint(parsed.header)
    head, body, sig = token.split(".")
    # Canonical: decoding then re-encoding gives the very same text.
    for segment in (head, body, sig):
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        assert _b64url(raw) == segment, "a non-canonical segment passed the gate"
    assert _b64url(parsed.signature) == sig
    assert parsed.signing_input == f"{head}.{body}".encode()


def check_cookies(values: list[str]) -> None:
    cookies = parse_cookies(values)
    joined = "\n".join(values)
    first: dict[str, str] = {}
    for name, value in cookies.items():
        assert name
        assert not BAD_NAME_CHARS & set(name), name
        assert name in joined
        assert value in joined
        assert value == value.strip() or f'"{value}"' in joined  # trimmed unless quoted
        first.setdefault(name, value)
    assert first == cookies


def check_extract(authorization: str, cookie: str) -> None:
    headers = [("authorization", authorization), ("cookie", cookie)]
    try:
        found = extract_token(headers, cookie_suffix="abcdefgh")
    except TokenVerificationError as exc:
        reason = _refusal(exc)
        assert reason in REQUEST_REASONS, reason
        return
    if found is not None:
        assert found.token
        assert found.source in ("header", "cookie")
        if found.source == "cookie":
            assert isinstance(found.client_uat, int)
            assert found.client_uat > 0


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    target = fdp.ConsumeIntInRange(0, 3)
    if target <= 1:
        # Half the time raw Latin-1 text (any octet), else Unicode from the provider.
        token = (
            fdp.ConsumeBytes(fdp.remaining_bytes()).decode("latin-1")
            if fdp.ConsumeBool()
            else fdp.ConsumeUnicodeNoSurrogates(fdp.remaining_bytes())
        )
        check_gate(token, kid_required=target == 0)
    elif target == 2:
        count = fdp.ConsumeIntInRange(0, 3)
        check_cookies([fdp.ConsumeUnicodeNoSurrogates(200) for _ in range(count)])
    else:
        authorization = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 300))
        check_extract(authorization, fdp.ConsumeUnicodeNoSurrogates(fdp.remaining_bytes()))


def make_seeds(directory: Path) -> int:
    """Seed inputs that already pass the gate (so mutations start deep in the JSON)."""
    directory.mkdir(parents=True, exist_ok=True)
    header = _b64url(json.dumps({"alg": "RS256", "kid": "ins_2abc", "typ": "JWT"}).encode())
    payload = _b64url(
        json.dumps({"sub": "user_1", "sid": "sess_1", "exp": 1700000060, "iat": 1700000000})
        .encode()
    )  # fmt: skip
    token = f"{header}.{payload}.{_b64url(bytes(256))}"
    seeds = [
        b"\x00" + token.encode(),
        b"\x01" + token.encode(),
        b"\x02\x02" + f"__session={token}; __client_uat=1700000000".encode(),
        b"\x03\x40" + f"Bearer {token}".encode(),
    ]
    for seed in seeds:
        (directory / hashlib.sha1(seed).hexdigest()).write_bytes(seed)
    return len(seeds)


def main(argv: list[str]) -> None:
    args = []
    it = iter(argv[1:])
    for arg in it:
        if arg == "--runs":
            args.append(f"-runs={next(it)}")
        elif arg == "--make-seeds":
            print(f"wrote {make_seeds(Path(next(it)))} seeds")
            return
        elif arg == "--seeds":
            directory = next(it)
            make_seeds(Path(directory))
            args.append(directory)
        else:
            args.append(arg)
    atheris.Setup([argv[0], *args], test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
