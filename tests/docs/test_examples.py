"""Run every ```python block of docs/*.md and README.md against a mock Clerk issuer.

The convention (also written up in docs/testing.md, "The docs test"):

- Every fenced block whose language is ``python`` (or ``py``) is executed; ``text``,
  ``console``, ``js`` … blocks are not.
- A page is read like a script: its blocks run in order, in one namespace that is
  fresh for each page, so a later block may use what an earlier one defined.
- An HTML comment on the line just before a fence (blank lines allowed) changes that
  block:

  ``<!-- docs-test: skip <reason> -->``
      do not run it (the reason is required, and reported as the skip reason);
  ``<!-- docs-test: reset -->``
      start a fresh namespace with this block (a new, unrelated example);
  ``<!-- docs-test: env=pem -->``
      the ``CLERK_*`` environment the block sees: ``jwks`` (the default:
      ``CLERK_SECRET_KEY``, ``CLERK_API_URL``, ``CLERK_ISSUER`` and
      ``CLERK_AUTHORIZED_PARTIES`` pointing at the mock), ``pem`` (``CLERK_JWT_KEY``
      instead of the secret key: networkless) or ``none`` (no ``CLERK_*`` at all);
  ``<!-- docs-test: given=token,headers -->``
      predefine names the page says the reader already has: ``token`` (a valid
      session token from the mock) and ``headers`` (``{"Authorization": "Bearer …"}``).

  ``<!-- docs-test: pytest -->``
      the block is a pytest test module: it is written to a temporary directory,
      next to a ``conftest.py`` enabling ``clerk_auth_core.testing.pytest_plugin``,
      and run by pytest in a subprocess (in the block's environment), which must pass.
      It does not share the page's namespace.

  Several may be combined: ``<!-- docs-test: reset env=pem given=token -->``.
- An ``app`` is exercised: after the last block of a run of blocks that mentions
  ``app``, a Flask app (test client) or a Starlette/FastAPI app (``TestClient``, with
  its lifespan) gets a GET on every route without path parameters, once without a
  token and once with a valid one. No answer may be a 5xx (a crashing view, a key
  source that cannot load), and a valid token must never be answered 401.

Each block is one test item, ``test_example[<page>-<n>]`` (n counts python blocks
from 1), and tracebacks carry the page's own line numbers.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from clerk_auth_core.testing import MockClerk

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
#: Pages outside docs/ whose examples run too, by the name their blocks carry.
OTHER_PAGES = {"README.md": ROOT / "README.md"}


def page_path(page: str) -> Path:
    """Where the page a block came from lives."""
    return OTHER_PAGES.get(page, DOCS / page)


#: Third-party modules a page may use that the test environment need not have.
OPTIONAL_MODULES = {"flask_cors": "flask-cors"}

_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<body>.*?)\s*-->\s*$")
_ENVS = ("jwks", "pem", "none")
_GIVEN = ("token", "headers")


@dataclass
class Block:
    """One ```python block of a page."""

    page: str
    index: int
    line: int  # 1-based line of the first code line
    code: str
    skip: str | None = None
    reset: bool = False
    env: str = "jwks"
    given: tuple[str, ...] = ()
    pytest: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def mentions_app(self) -> bool:
        return re.search(r"\bapp\b", self.code) is not None


def _parse_directive(block: Block, body: str) -> None:
    if body == "skip" or body.startswith("skip "):
        reason = body[4:].strip()
        if not reason:
            block.errors.append("docs-test: skip needs a reason")
        block.skip = reason or "no reason given"
        return
    for word in shlex.split(body):
        name, _, value = word.partition("=")
        if name == "reset" and not value:
            block.reset = True
        elif name == "pytest" and not value:
            block.pytest = True
        elif name == "env" and value in _ENVS:
            block.env = value
        elif name == "given" and value and set(value.split(",")) <= set(_GIVEN):
            block.given = tuple(value.split(","))
        else:
            block.errors.append(f"unknown docs-test directive {word!r}")


def parse_page(path: Path) -> list[Block]:
    """The python blocks of a markdown page, with their directives."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        fence, indent = opening["fence"], opening["indent"]
        words = opening["info"].split()
        lang = words[0].lower() if words else ""
        end = i + 1
        while end < len(lines) and not (
            lines[end].strip().startswith(fence) and set(lines[end].strip()) == {fence[0]}
        ):
            end += 1
        if lang in ("python", "py"):
            body = [ln[len(indent) :] if ln.startswith(indent) else ln for ln in lines[i + 1 : end]]
            block = Block(path.name, len(blocks) + 1, i + 2, "\n".join(body) + "\n")
            j = i - 1
            while j >= 0 and not lines[j].strip():
                j -= 1
            directive = _DIRECTIVE.match(lines[j]) if j >= 0 else None
            if directive is not None:
                _parse_directive(block, directive["body"])
            blocks.append(block)
        i = end + 1
    return blocks


def _all_blocks() -> list[Block]:
    pages = [*sorted(DOCS.glob("*.md")), *OTHER_PAGES.values()]
    return [block for page in pages for block in parse_page(page)]


# -- running a page -------------------------------------------------------------------


@dataclass
class Outcome:
    error: str | None = None
    skip: str | None = None


def _environment(clerk: MockClerk, env: str) -> dict[str, str]:
    if env == "none":
        return {}
    common = {"CLERK_ISSUER": clerk.issuer, "CLERK_AUTHORIZED_PARTIES": clerk.origin}
    if env == "pem":
        return {**common, "CLERK_JWT_KEY": clerk.public_pem}
    return {**common, "CLERK_SECRET_KEY": clerk.secret_key, "CLERK_API_URL": clerk.url}


class _Env:
    """Set exactly the given CLERK_* variables, restoring the process's afterwards."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.saved: dict[str, str] = {}

    def __enter__(self) -> None:
        self.saved = {k: v for k, v in os.environ.items() if k.startswith("CLERK_")}
        for name in self.saved:
            del os.environ[name]
        os.environ.update(self.values)

    def __exit__(self, *exc: object) -> None:
        for name in [k for k in os.environ if k.startswith("CLERK_")]:
            del os.environ[name]
        os.environ.update(self.saved)


def _exercise_flask(app: Any, token: str) -> list[str]:
    problems = []
    client = app.test_client()
    rules = [
        r
        for r in app.url_map.iter_rules()
        if r.endpoint != "static" and not r.arguments and "GET" in (r.methods or ())
    ]
    for rule in rules:
        for label, headers in (("no token", {}), ("valid token", _bearer(token))):
            status = client.get(rule.rule, headers=headers).status_code
            problems += _judge(rule.rule, label, status)
    return problems


def _exercise_starlette(app: Any, token: str) -> list[str]:
    from starlette.routing import Route
    from starlette.testclient import TestClient

    problems = []
    with TestClient(app) as client:
        for route in app.routes:
            if not isinstance(route, Route) or "{" in route.path:
                continue
            if "GET" not in (route.methods or ()):
                continue
            for label, headers in (("no token", {}), ("valid token", _bearer(token))):
                status = client.get(route.path, headers=headers).status_code
                problems += _judge(route.path, label, status)
    return problems


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _judge(path: str, label: str, status: int) -> list[str]:
    if status >= 500:
        return [f"GET {path} ({label}) answered {status}"]
    if label == "valid token" and status == 401:
        return [f"GET {path} refused a valid token with 401"]
    return []


def _exercise(app: Any, token: str) -> list[str]:
    flask = sys.modules.get("flask")  # imported by the example if it made a Flask app
    if flask is not None and isinstance(app, flask.Flask):
        return _exercise_flask(app, token)
    starlette = sys.modules.get("starlette.applications")
    if starlette is not None and isinstance(app, starlette.Starlette):
        return _exercise_starlette(app, token)
    return [f"`app` is neither a Flask nor a Starlette app: {type(app).__name__}"]


def _exercise_points(blocks: list[Block]) -> set[int]:
    """Indexes of blocks after which the namespace's ``app`` is exercised: the last
    block mentioning ``app`` before each reset (apps cannot grow routes once served)."""
    points: set[int] = set()
    last: int | None = None
    for block in blocks:
        if block.reset and last is not None:
            points.add(last)
            last = None
        if block.mentions_app and block.skip is None and not block.pytest:
            last = block.index
    if last is not None:
        points.add(last)
    return points


def _format(exc: BaseException) -> str:
    """The traceback without this harness's own frames."""
    te = traceback.TracebackException.from_exception(exc)
    te.stack = traceback.StackSummary.from_list(
        [frame for frame in te.stack if frame.filename != __file__]
    )
    return "".join(te.format())


def _run_pytest(block: Block, env: dict[str, str]) -> Outcome:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "conftest.py").write_text(
            'pytest_plugins = ["clerk_auth_core.testing.pytest_plugin"]\n'
        )
        (folder / f"test_{Path(block.page).stem.replace('-', '_')}_{block.index}.py").write_text(
            block.code
        )
        environ = {k: v for k, v in os.environ.items() if not k.startswith("CLERK_")}
        environ.update(env, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", tmp, tmp],
            cwd=tmp,
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
        )
    if result.returncode != 0:
        return Outcome(error=f"pytest failed:\n{result.stdout}{result.stderr}")
    return Outcome()


def _reset_process_defaults() -> None:
    """Forget the configuration the FastAPI default dependencies read from the
    environment on first use, so no page inherits another's (or another test's)."""
    module = sys.modules.get("clerk_auth_starlette.fastapi")
    default = getattr(module, "clerk_auth", None)
    authenticator = getattr(default, "authenticator", None)
    if authenticator is not None:
        default.authenticator = type(authenticator)()  # type: ignore[union-attr]


def run_page(blocks: list[Block], clerk: MockClerk) -> dict[int, Outcome]:
    """Run a page's blocks in order; answer each block's outcome."""
    _reset_process_defaults()
    try:
        return _run_blocks(blocks, clerk)
    finally:
        _reset_process_defaults()


def _run_blocks(blocks: list[Block], clerk: MockClerk) -> dict[int, Outcome]:
    outcomes: dict[int, Outcome] = {}
    points = _exercise_points(blocks)
    namespace: dict[str, Any] = {}
    failed_before: int | None = None
    for block in blocks:
        if block.reset or not namespace:
            namespace = {"__name__": "docs_example"}
            failed_before = None
        if block.errors:
            outcomes[block.index] = Outcome(error="; ".join(block.errors))
            continue
        if block.skip is not None:
            outcomes[block.index] = Outcome(skip=block.skip)
            continue
        if block.pytest:
            outcomes[block.index] = _run_pytest(block, _environment(clerk, block.env))
            continue
        token = clerk.mint(sub="user_docs")
        given = {"token": token, "headers": _bearer(token)}
        namespace.update({name: given[name] for name in block.given})
        outcome = Outcome()
        with _Env(_environment(clerk, block.env)):
            try:
                # Pad so tracebacks show the page's own line numbers.
                padded = "\n" * (block.line - 1) + block.code
                code = compile(padded, str(page_path(block.page)), "exec")
                exec(code, namespace)
                if block.index in points and "app" in namespace:
                    problems = _exercise(namespace["app"], token)
                    if problems:
                        outcome.error = "the example's app misbehaves:\n" + "\n".join(problems)
            except ModuleNotFoundError as exc:
                if exc.name not in OPTIONAL_MODULES:
                    outcome.error = _format(exc)
                else:
                    outcome.skip = f"needs {OPTIONAL_MODULES[exc.name]} (not installed)"
            except Exception as exc:
                outcome.error = _format(exc)
        if outcome.error and failed_before is not None:
            outcome.error += f"\n(block {failed_before} of this page failed before this one)"
        if outcome.error and failed_before is None:
            failed_before = block.index
        outcomes[block.index] = outcome
    return outcomes


# -- the tests ------------------------------------------------------------------------

#: Known problems in pages other people own, reported to them: (page, a snippet of the
#: failing block, what it needs). A block is expected to fail only while it still
#: contains the snippet and still fails, so an entry expires by itself once fixed.
PENDING_FIXES: list[tuple[str, str, str]] = []

BLOCKS = _all_blocks()


@pytest.fixture(scope="module")
def docs_clerk() -> Iterator[MockClerk]:
    """One mock Clerk instance for every page (its keys never rotate here)."""
    with MockClerk() as clerk:
        yield clerk


@pytest.fixture(scope="module")
def page_outcomes(docs_clerk: MockClerk) -> Callable[[str], dict[int, Outcome]]:
    """Run each page once, on first request, and remember the outcomes."""
    cache: dict[str, dict[int, Outcome]] = {}

    def outcomes(page: str) -> dict[int, Outcome]:
        if page not in cache:
            cache[page] = run_page([b for b in BLOCKS if b.page == page], docs_clerk)
        return cache[page]

    return outcomes


def test_docs_have_examples() -> None:
    assert BLOCKS, f"no ```python blocks found under {DOCS}"


def _shown(page: str) -> str:
    return str(page_path(page).relative_to(ROOT))


def test_the_readme_is_run() -> None:
    assert [b.page for b in BLOCKS].count("README.md") >= 3


@pytest.mark.parametrize("block", BLOCKS, ids=[f"{b.page}-{b.index}" for b in BLOCKS])
def test_example(block: Block, page_outcomes: Callable[[str], dict[int, Outcome]]) -> None:
    outcome = page_outcomes(block.page)[block.index]
    if outcome.skip is not None:
        pytest.skip(f"{_shown(block.page)} block {block.index}: {outcome.skip}")
    if outcome.error is not None:
        for page, snippet, needs in PENDING_FIXES:
            if block.page == page and snippet in block.code:
                pytest.xfail(f"docs/{page} block {block.index}: {needs}")
        pytest.fail(
            f"{_shown(block.page)} block {block.index} (line {block.line}):\n{outcome.error}",
            pytrace=False,
        )
