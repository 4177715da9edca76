"""``python -m benchmarks``: measure, check the targets, write the table, JSON and chart."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.util
import platform
import shutil
import statistics
import sys
import time
from importlib import metadata
from pathlib import Path

from ._adapters import (
    django_candidates,
    drf_candidates,
    fastapi_candidates,
    flask_candidates,
    starlette_candidates,
)
from ._fixtures import Fixtures, rsa_baseline
from ._machine import (
    M2M_FIRST,
    NO_TOKEN_FLOOR,
    OPAQUE_CPU,
    OPAQUE_FIRST,
    OPAQUE_HIT,
    ROUND_TRIP,
    SESSION_FIRST,
    SESSIONS_KIND,
    SESSIONS_ROUTE_JWT,
    SESSIONS_ROUTE_OPAQUE,
    machine_candidates,
    route_candidates,
)
from ._memory import cache_memory
from ._report import (
    Bar,
    Target,
    baseline_per_group,
    derived,
    load_note,
    print_tables,
    write_chart,
    write_json,
)
from ._reverification import ROLE_BEFORE, ROLE_TODAY, WITH_STEP_UP, reverification_candidates
from ._servers import ServerResult, run_servers
from ._timing import Measured, measure
from ._verifiers import (
    BenchmarkError,
    garbage_candidates,
    ours_first_sight,
    ours_seen,
    peer_candidates,
    peer_garbage,
    peers,
)
from ._webhooks import OURS_WEBHOOK, SVIX_PARSED, SVIX_WEBHOOK, webhook_candidates

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
DOCS_CHART = ROOT / "docs" / "img" / "benchmarks.svg"

FIRST, SEEN, GARBAGE = "first sight", "token seen before", "garbage (refused before a signature)"
FLASK, STARLETTE, FASTAPI = "Flask (raw WSGI)", "Starlette (raw ASGI)", "FastAPI (raw ASGI)"
DJANGO, DRF = "Django (raw WSGI)", "Django REST framework (raw WSGI)"
OURS = "clerk-auth verify_token"
WEBHOOKS = "webhook delivery (10 KiB body)"
REVERIFICATION = "reverification (requirement check per request)"
MACHINE = "machine tokens"
MACHINE_ROUTES = "machine tokens, request path"


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in (
        "clerk-auth", "cryptography", "joserfc", "PyJWT", "Authlib", "clerk-backend-api",
        "fastapi-clerk-auth", "Flask", "starlette", "fastapi", "Django", "djangorestframework",
        "gunicorn", "uvicorn", "svix",
    ):  # fmt: skip
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist] = metadata.version(dist)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few seconds, for CI")
    parser.add_argument("--rounds", type=int, help="rounds per group (default 41, quick 7)")
    parser.add_argument(
        "--servers",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run gunicorn/uvicorn under load (default: on, off with --quick)",
    )
    parser.add_argument(
        "--only",
        help="comma-separated groups to run: first, seen, garbage, adapters, webhooks, "
        "reverification, machine (default: all)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    args = parser.parse_args(argv)
    quick = args.quick
    rounds = args.rounds or (7 if quick else 41)
    servers_on = (not quick) if args.servers is None else args.servers
    notes: list[str] = []
    started = time.monotonic()
    print(f"clerk-auth benchmarks ({'quick' if quick else 'full'}, {rounds} rounds per group)")
    fx = Fixtures(tokens=48 if quick else 256)
    only = set(args.only.split(",")) if args.only else None
    try:
        groups, targets, bars, server_results = _measure(fx, rounds, quick, servers_on, notes, only)
        memory = cache_memory(fx)
    except BenchmarkError as exc:
        print(f"\nBENCHMARK ERROR (a verifier misbehaved; nothing was timed): {exc}")
        return 2
    finally:
        fx.close()
    print_tables(targets, groups, notes)
    print(f"\n  interpreter: {sys.executable} (Python {platform.python_version()})")
    per_group = baseline_per_group(groups)
    note = load_note(per_group)
    if note:
        print(f"  {note}")
    print(
        f"\n  token cache: {memory.bytes_per_entry:.0f} bytes per entry, plus the token it keeps"
        f" alive ({memory.token_bytes} bytes): {memory.total_per_entry / 1024:.1f} KiB;"
        f" 10,000 entries ≈ {memory.total_per_entry * 10_000 / 2**20:.0f} MiB"
    )
    for s in server_results:
        print(
            f"  {s.server}: /open {statistics.median(s.open_rps):.0f} req/s, "
            f"/protected {statistics.median(s.protected_rps):.0f} req/s ({s.client})"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    meta = {
        "date": stamp,
        "mode": "quick" if quick else "full",
        "rounds": rounds,
        "tokens": len(fx.tokens),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "versions": _versions(),
        "seconds": round(time.monotonic() - started, 1),
        "interpreter": sys.executable,
        "baseline_us_per_group": per_group,
        "cache_memory": {
            "bytes_per_entry": round(memory.bytes_per_entry),
            "token_bytes": memory.token_bytes,
            "entries_measured": memory.entries,
        },
    }
    json_path = args.out / f"benchmarks-{stamp}.json"
    write_json(json_path, meta, targets, groups, server_results, notes)
    chart = args.out / f"benchmarks-{stamp}.svg"
    title = (
        f"clerk-auth vs peers, Python {platform.python_version()} "
        f"({meta['mode']} run, {rounds} rounds, median)"
    )
    if bars:
        write_chart(chart, bars, title)
    shutil.copyfile(json_path, args.out / "latest.json")
    if bars:
        shutil.copyfile(chart, args.out / "latest.svg")
    if bars and not quick and only is None:
        DOCS_CHART.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(chart, DOCS_CHART)
    print(f"\nwrote {json_path.relative_to(ROOT) if json_path.is_relative_to(ROOT) else json_path}")
    if bars:
        print(f"wrote {chart.relative_to(ROOT) if chart.is_relative_to(ROOT) else chart}")
    if bars and not quick and only is None:
        print(f"wrote {DOCS_CHART.relative_to(ROOT)}")
    missed = [t for t in targets if not t.ok]
    print(f"\n{len(targets) - len(missed)}/{len(targets)} targets met in {meta['seconds']} s")
    return 1 if missed and args.strict else 0


def _measure(
    fx: Fixtures,
    rounds: int,
    quick: bool,
    servers_on: bool,
    notes: list[str],
    only: set[str] | None = None,
) -> tuple[dict[str, dict[str, Measured]], list[Target], list[Bar], list[ServerResult]]:
    n = len(fx.tokens)
    groups: dict[str, dict[str, Measured]] = {}
    found = peers(fx, notes)

    def wanted(key: str) -> bool:
        return only is None or key in only

    if wanted("first"):
        print(f"- {FIRST} …", flush=True)
        groups[FIRST] = measure(
            rsa_baseline(fx, n), [*ours_first_sight(fx), *peer_candidates(fx, found)], rounds
        )
    if wanted("seen"):
        print(f"- {SEEN} …", flush=True)
        groups[SEEN] = measure(rsa_baseline(fx, 32), ours_seen(fx), rounds)
    if wanted("garbage"):
        print(f"- {GARBAGE} …", flush=True)
        groups[GARBAGE] = measure(
            rsa_baseline(fx, 32),
            [*garbage_candidates(fx, n), *peer_garbage(fx, found, 8 if quick else 24)],
            rounds,
        )
    calls = 64 if quick else 200
    if wanted("adapters"):
        print("- adapters …", flush=True)
        groups[FLASK] = measure(rsa_baseline(fx, 32), flask_candidates(fx, calls), rounds)
        groups[STARLETTE] = measure(rsa_baseline(fx, 32), starlette_candidates(fx, calls), rounds)
        groups[FASTAPI] = measure(
            rsa_baseline(fx, 32), fastapi_candidates(fx, calls, notes), rounds
        )
        if importlib.util.find_spec("django") is None:
            notes.append("Django: skipped, not installed")
        else:
            groups[DJANGO] = measure(rsa_baseline(fx, 32), django_candidates(fx, calls), rounds)
        if importlib.util.find_spec("rest_framework") is None:
            notes.append("DRF: skipped, not installed")
        else:
            groups[DRF] = measure(rsa_baseline(fx, 32), drf_candidates(fx, calls), rounds)
    if wanted("webhooks"):
        print(f"- {WEBHOOKS} …", flush=True)
        groups[WEBHOOKS] = measure(
            rsa_baseline(fx, 32), webhook_candidates(16 if quick else 64, notes), rounds
        )
    if wanted("reverification"):
        print(f"- {REVERIFICATION} …", flush=True)
        groups[REVERIFICATION] = measure(
            rsa_baseline(fx, 32), reverification_candidates(fx, n), rounds
        )
    if wanted("machine"):
        print(f"- {MACHINE} …", flush=True)
        candidates, verifier = machine_candidates(fx, min(n, 64))
        try:
            calls_before = verifier.stats.calls
            groups[MACHINE] = measure(rsa_baseline(fx, 32), candidates, rounds)
            if verifier.stats.calls != calls_before:
                raise BenchmarkError("a cache hit made a Backend API call")
        finally:
            verifier.close()
        routes, to_close = route_candidates(fx, min(n, 64))
        try:
            groups[MACHINE_ROUTES] = measure(rsa_baseline(fx, 32), routes, rounds)
        finally:
            for shell in to_close:
                shell.close()
    server_results: list[ServerResult] = []
    if servers_on and wanted("servers"):
        print("- servers under load …", flush=True)
        server_results = run_servers(fx, 1.0 if quick else 3.0, 1 if quick else 6, notes)
    targets, bars = _targets(groups, server_results)
    return groups, targets, bars, server_results


def _fmt(ratio: float) -> str:
    return f"{ratio:.3f}×"


def _targets(
    groups: dict[str, dict[str, Measured]], servers: list[ServerResult]
) -> tuple[list[Target], list[Bar]]:
    targets: list[Target] = []
    bars: list[Bar] = []
    if FIRST in groups:
        _first_sight(groups[FIRST], targets, bars)
    if SEEN in groups:
        seen = groups[SEEN]["clerk-auth, token seen before"].ratio
        targets.append(Target("token seen before (cache hit)", "≤ 0.1×", _fmt(seen), seen <= 0.1))
        bars.append(Bar(SEEN, "seen before: clerk-auth verify_token", seen, True, 0.1))
    if GARBAGE in groups:
        _garbage(groups[GARBAGE], targets, bars)
    if FLASK in groups:
        _adapters(groups, targets, bars)
    if WEBHOOKS in groups:
        _webhooks(groups[WEBHOOKS], targets, bars)
    if REVERIFICATION in groups:
        _reverification(groups[REVERIFICATION], targets)
    if MACHINE in groups:
        _machine(groups[MACHINE], targets, bars)
    if MACHINE_ROUTES in groups:
        _machine_routes(groups[MACHINE_ROUTES], targets, bars)
    for s in servers:
        targets.append(
            Target(
                f"{s.server}: req/s protected ÷ open", "≥ 85 %", f"{s.ratio:.1%}", s.ratio >= 0.85
            )
        )
    return targets, bars


def _machine(group: dict[str, Measured], targets: list[Target], bars: list[Bar]) -> None:
    session, m2m, hit = group[SESSION_FIRST], group[M2M_FIRST], group[OPAQUE_HIT]
    share = statistics.median(m / s for m, s in zip(m2m.ns, session.ns, strict=True))
    targets.append(
        Target(
            "JWT machine token first sight ÷ session first sight",
            "≤ 1.1",
            f"{share:.2f} ({m2m.ratio:.2f}× vs {session.ratio:.2f}×)",
            share <= 1.1,
        )
    )
    targets.append(
        Target("opaque token seen before (cache hit)", "≤ 0.1×", _fmt(hit.ratio), hit.ratio <= 0.1)
    )
    bars.append(Bar(MACHINE, SESSION_FIRST, session.ratio, True))
    bars.append(Bar(MACHINE, M2M_FIRST, m2m.ratio, True))
    bars.append(Bar(MACHINE, OPAQUE_HIT, hit.ratio, True, 0.1))


def _machine_routes(group: dict[str, Measured], targets: list[Target], bars: list[Bar]) -> None:
    kind, opaque, jwt = (
        group[SESSIONS_KIND],
        group[SESSIONS_ROUTE_OPAQUE],
        group[SESSIONS_ROUTE_JWT],
    )
    floor = group[NO_TOKEN_FLOOR]
    first, trip, cpu = group[OPAQUE_FIRST], group[ROUND_TRIP], group[OPAQUE_CPU]
    # The refusal by kind, as the other garbage rows are measured (verify_token); the
    # request path adds reading the headers, which a request with no token costs too.
    targets.append(
        Target(
            "sessions-only route given a machine token (refused by kind)",
            "≤ 0.05×",
            f"{_fmt(kind.ratio)} (request path {_fmt(opaque.ratio)}, whose floor, no token at"
            f" all, is {_fmt(floor.ratio)}; an M2M JWT, refused by the gate: {_fmt(jwt.ratio)})",
            kind.ratio <= 0.05,
        )
    )
    # Both in the same rounds: the first sight's cost beyond the round trip, per round.
    beyond = statistics.median(f - t for f, t in zip(first.ratios, trip.ratios, strict=True))
    targets.append(
        Target(
            "opaque token first sight: one round trip plus",
            "≤ 0.5×",
            f"{_fmt(beyond)} (first sight {_fmt(first.ratio)}, round trip {_fmt(trip.ratio)}"
            f" = {statistics.median(trip.ns) / 1000:.0f} µs; the verifier's own work,"
            f" no socket: {_fmt(cpu.ratio)})",
            beyond <= 0.5,
        )
    )
    bars.append(Bar(MACHINE_ROUTES, SESSIONS_KIND, kind.ratio, True, 0.05))
    bars.append(Bar(MACHINE_ROUTES, SESSIONS_ROUTE_OPAQUE, opaque.ratio, True))
    bars.append(Bar(MACHINE_ROUTES, NO_TOKEN_FLOOR, floor.ratio, True))
    bars.append(Bar(MACHINE_ROUTES, SESSIONS_ROUTE_JWT, jwt.ratio, True))


def _webhooks(group: dict[str, Measured], targets: list[Target], bars: list[Bar]) -> None:
    # Ours answers a parsed event; Svix's verify only verifies, so the like-for-like
    # figure is Svix's verify plus json.loads. Verify alone is shown beside it.
    ours = group[OURS_WEBHOOK]
    bars.append(Bar(WEBHOOKS, OURS_WEBHOOK, ours.ratio, True))
    for name in (SVIX_WEBHOOK, SVIX_PARSED):
        if name in group:
            bars.append(Bar(WEBHOOKS, name, group[name].ratio, False))
    if SVIX_PARSED in group:

        def share(name: str) -> float:
            return statistics.median(o / t for o, t in zip(ours.ns, group[name].ns, strict=True))

        measured = (
            f"{ours.median_ns / 1000:.1f} µs vs {group[SVIX_PARSED].median_ns / 1000:.1f} µs"
            f" ({share(SVIX_PARSED):.2f}; {share(SVIX_WEBHOOK):.2f} of verify alone)"
        )
        targets.append(
            Target("verify_webhook vs svix verify + json.loads (10 KiB)", "≤ 1×", measured,
                   share(SVIX_PARSED) <= 1.0)
        )  # fmt: skip


def _first_sight(first: dict[str, Measured], targets: list[Target], bars: list[Bar]) -> None:
    ours = first[OURS].ratio
    peer_ratios = {
        name: m.ratio
        for name, m in first.items()
        if not name.startswith(("clerk-auth", "raw RSA", "minimal"))
    }
    best_peer = min(peer_ratios.items(), key=lambda kv: kv[1]) if peer_ratios else None
    goal = "≤ 1.8×, below every peer"
    measured = _fmt(ours) + (f" (best peer {best_peer[1]:.2f}×)" if best_peer else "")
    minimal = next((m.ratio for name, m in first.items() if name.startswith("minimal")), None)
    if minimal:
        # Noise-robust: both sides are the same kind of Python work over the same
        # verify. The targets were set where the minimal verifier costs 1.6×, so
        # 1.8× there is 1.125× of it.
        measured += f"; {ours / minimal:.2f}× the minimal verifier (1.8/1.6 = 1.125)"
    targets.append(
        Target("first sight (signature checked)", goal, measured,
               ours <= 1.8 and (best_peer is None or ours < best_peer[1]))
    )  # fmt: skip
    for name, m in first.items():
        if name.startswith("raw RSA"):
            continue
        bars.append(Bar(FIRST, f"first sight: {name}", m.ratio, name.startswith("clerk-auth"),
                        1.8 if name == OURS else None))  # fmt: skip


def _garbage(garbage: dict[str, Measured], targets: list[Target], bars: list[Bar]) -> None:
    for name, m in garbage.items():
        if name.startswith("raw RSA"):
            continue
        ours_ = name.startswith("clerk-auth")
        if ours_ and "each different" not in name and "informational" not in name:
            targets.append(
                Target(f"garbage: {name.removeprefix('clerk-auth: ')}", "≤ 0.05×",
                       _fmt(m.ratio), m.ratio <= 0.05)
            )  # fmt: skip
            bars.append(Bar(GARBAGE, f"garbage: {name}", m.ratio, True, 0.05))
        elif not ours_:
            bars.append(Bar(GARBAGE, f"garbage: {name}", m.ratio, False))


def _adapters(
    groups: dict[str, dict[str, Measured]], targets: list[Target], bars: list[Bar]
) -> None:
    for title, without, by_hand, with_, label in (
        (FLASK, "Flask: route without auth", "Flask: route calling the core by hand",
         "Flask: route with @require_auth", "Flask @require_auth"),
        (STARLETTE, "Starlette: route without auth", "Starlette: route behind the core by hand",
         "Starlette: route with ClerkAuthMiddleware", "Starlette middleware"),
        (DJANGO, "Django: route without auth", "Django: route calling the core by hand",
         "Django: route with @require_auth", "Django @require_auth"),
        (DRF, "DRF: APIView without auth", "DRF: APIView calling the core by hand",
         "DRF: APIView with ClerkAuthentication", "DRF ClerkAuthentication"),
    ):  # fmt: skip
        if title not in groups:
            continue
        g = groups[title]
        base = next(m for n, m in g.items() if n.startswith("raw RSA"))
        # The adapter's own cost: the route with it, minus the same route calling the
        # core by hand (both in the framework, so the core runs in the same context).
        extra = statistics.median(derived([g[with_]], [g[by_hand]], base))
        core = statistics.median(derived([g[by_hand]], [g[without]], base))
        added = statistics.median(derived([g[with_]], [g[without]], base))
        targets.append(
            Target(f"{label}: beyond the core", "≤ 0.5×",
                   f"{_fmt(extra)} (core {core:.3f}×)", extra <= 0.5)
        )  # fmt: skip
        bars.append(Bar("adapters", f"{label}: added per request", added, True))
    g = groups[FASTAPI]
    base = next(m for n, m in g.items() if n.startswith("raw RSA"))
    ours_added = derived(
        [g["FastAPI: Depends(auth.required)"]], [g["FastAPI: route without auth"]], base
    )
    bars.append(
        Bar(
            "adapters", "FastAPI Depends(auth.required): added", statistics.median(ours_added), True
        )
    )
    theirs_name = "FastAPI: fastapi-clerk-auth ClerkHTTPBearer"
    if theirs_name in g:
        theirs_added = derived([g[theirs_name]], [g["FastAPI: route without auth"]], base)
        share = statistics.median(o / t for o, t in zip(ours_added, theirs_added, strict=True))
        targets.append(
            Target("FastAPI dependency vs fastapi-clerk-auth", "≤ ¼ of what it adds",
                   f"{statistics.median(ours_added):.2f}× vs {statistics.median(theirs_added):.2f}×"
                   f" ({share:.2f})", share <= 0.25)
        )  # fmt: skip
        bars.append(
            Bar("adapters", "fastapi-clerk-auth: added", statistics.median(theirs_added), False)
        )


def _reverification(group: dict[str, Measured], targets: list[Target]) -> None:
    base = next(m for n, m in group.items() if n.startswith("raw RSA"))
    without = statistics.median(derived([group[ROLE_TODAY]], [group[ROLE_BEFORE]], base))
    with_ = statistics.median(derived([group[WITH_STEP_UP]], [group[ROLE_TODAY]], base))
    # "Nothing measurable": one attribute test per check, within the rounds' noise.
    targets.append(
        Target("reverification: added to a route without it", "≤ 0.001×", _fmt(without),
               without <= 0.001)
    )  # fmt: skip
    targets.append(
        Target("reverification: added to a route with it", "≤ 0.01×", _fmt(with_),
               with_ <= 0.01)
    )  # fmt: skip


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
