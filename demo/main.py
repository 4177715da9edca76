"""``python -m demo``: run the scenario, print the table, exit 0 only if all is as expected.

``--serve`` then keeps everything running for a person with a browser, until Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType

import httpx

from .cases import CASES, DEMO_USER, OTHER_ORIGIN, Outcome, judge, run_case
from .stack import DemoStack

__all__ = ["main", "render", "run_checks"]


def run_checks(stack: DemoStack) -> list[Outcome]:
    """Every case against every API, as the front end would send them."""
    outcomes = []
    with httpx.Client(timeout=10.0) as http:
        for case in CASES:
            for api, url in stack.apis.items():
                answer = run_case(
                    http, case, url, token_url=stack.mock.token_url, frontend=stack.frontend_origin
                )
                outcomes.append(judge(case, api, answer, stack.frontend_origin))
    return outcomes


def _marks() -> tuple[str, str]:
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "✓✗".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return "ok", "FAIL"
    return "✓", "✗"


def render(stack: DemoStack, outcomes: Sequence[Outcome]) -> str:
    """The table, with where everything runs above it and a verdict below."""
    good, bad = _marks()
    titles = {case.key: case.title for case in CASES}
    lines = [
        "clerk-auth demo: a front end calling three APIs on other origins, no Clerk account",
        f"  front end      {stack.frontend_origin}  (the Origin of every request)",
        f"  Clerk (mock)   {stack.mock.url}  (JWKS; token endpoint {stack.mock.token_url})",
        *(f"  {api + ' API':<14} {url}/api/hello" for api, url in stack.apis.items()),
        f"  signed in as   {DEMO_USER}; another site: {OTHER_ORIGIN}",
        "",
    ]
    rows = [("case", "API", "answer", "expected", "")]
    rows += [(titles[o.case], o.api, o.answer, o.expected, good if o.ok else bad) for o in outcomes]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)]
        lines.append("  ".join([*cells, row[4]]).rstrip())
    failed = [o for o in outcomes if not o.ok]
    lines.append("")
    if failed:
        lines.append(f"{bad} {len(failed)} of {len(outcomes)} answers were NOT as expected")
    else:
        lines.append(f"{good} all {len(outcomes)} answers as expected")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m demo",
        description=(
            "Clerk's cross-origin guide, end to end on 127.0.0.1: a mock Clerk instance, "
            "the same API on Flask, on Starlette and on Django, and a front end on another origin "
            "sending `Authorization: Bearer <getToken()>`."
        ),
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="keep everything running and print the front-end page's URL (Ctrl-C stops)",
    )
    parser.add_argument("--json", action="store_true", help="the results as JSON on stdout")
    return parser


def _serve_until_stopped(stack: DemoStack) -> None:
    stop = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_term)
    print(
        f"\nServing. Open the front end in a browser:\n\n    {stack.frontend_url}\n\n"
        "Each button runs Clerk's fetch code in your browser against all three APIs.\n"
        "Ctrl-C to stop.",
        flush=True,
    )
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    print("stopping", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; answers the exit code (0: every answer as expected)."""
    args = _parser().parse_args(argv)
    started = time.monotonic()
    try:
        with DemoStack() as stack:
            outcomes = run_checks(stack)
            ok = all(o.ok for o in outcomes)
            if args.json:
                document = {
                    "ok": ok,
                    "frontend": stack.frontend_origin,
                    "clerk": stack.mock.url,
                    "apis": stack.apis,
                    "results": [o.as_dict() for o in outcomes],
                }
                print(json.dumps(document, indent=2), flush=True)
            else:
                print(render(stack, outcomes), flush=True)
                print(f"({time.monotonic() - started:.1f}s)", file=sys.stderr, flush=True)
            if args.serve:
                _serve_until_stopped(stack)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0 if ok else 1
