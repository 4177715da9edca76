"""What a new user reads first must work when followed literally (issue 16).

- README.md: the Quick start comes first with exactly two commands, then an Install
  section that works before the package is on the index (a clone, a git URL, a wheel)
  and names the index name to come.
- No page tells a reader to ``pip install clerk-auth`` without saying it is not on the
  package index yet.
- Every page that mentions the ``__session`` cookie says that it needs ``__client_uat``,
  and the pages a new user starts from name the refusal seen without it.
- CHANGELOG.md starts at 0.1.0, in the keep-a-changelog shape, with an Unreleased
  section, and the released version is the package's.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from clerk_auth_core import REASONS, __version__

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = [*sorted(DOCS.glob("*.md")), ROOT / "README.md"]
#: Where people start: these name the refusal a lone __session cookie gets.
ENTRY_PAGES = ["README.md", "docs/index.md", "docs/flask.md", "docs/starlette.md"]
LONE_SESSION = "session-token-but-no-client-uat"


def _sections(text: str) -> list[tuple[str, str]]:
    """``(title, body)`` of every ``## `` section, in order."""
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    return [(parts[i].strip(), parts[i + 1]) for i in range(1, len(parts), 2)]


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_readme_quick_start_first_with_two_commands() -> None:
    sections = _sections((ROOT / "README.md").read_text(encoding="utf-8"))
    title, body = sections[0]
    assert title == "Quick start"
    (console,) = re.findall(r"```console\n(.*?)```", body, flags=re.DOTALL)
    commands = [line for line in console.splitlines() if line.strip()]
    assert [c.split("#")[0].split() for c in commands] == [
        ["python", "run.py", "demo"],
        ["python", "run.py", "test"],
    ]


def test_readme_install_works_before_the_index() -> None:
    sections = _sections((ROOT / "README.md").read_text(encoding="utf-8"))
    assert sections[1][0] == "Install", [title for title, _ in sections]
    body = sections[1][1]
    assert 'pip install -e ".[flask]"' in body  # from a clone
    assert re.search(r'pip install "clerk-auth\[flask\] @ git\+', body)  # a git URL
    assert "python -m build" in body
    assert re.search(rf"clerk_auth-{re.escape(__version__)}-py3-none-any\.whl", body)
    assert "not on the package index yet" in " ".join(body.split())
    assert "`clerk-auth`" in body  # the name it will have there


_INDEX_INSTALL = re.compile(r'pip install "?clerk-auth(\[[a-z,]+\])?"?(?=[\s`)])')


@pytest.mark.parametrize("path", PAGES, ids=_shown)
def test_no_index_install_without_saying_it_is_not_there_yet(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    if _INDEX_INSTALL.search(text):
        assert "not on the package index yet" in " ".join(text.split()), (
            f"{_shown(path)} says `pip install clerk-auth…`, which fails until the "
            "package is published: say so and give the command that works today"
        )


@pytest.mark.parametrize("path", PAGES, ids=_shown)
def test_the_session_cookie_is_never_mentioned_without_client_uat(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    if re.search(r"`__session`", text):
        assert "__client_uat" in text, (
            f"{_shown(path)} mentions the __session cookie but not __client_uat, "
            "without which it is refused"
        )


@pytest.mark.parametrize("page", ENTRY_PAGES)
def test_entry_pages_name_the_refusal_of_a_lone_session_cookie(page: str) -> None:
    assert LONE_SESSION in REASONS
    text = (ROOT / page).read_text(encoding="utf-8")
    assert "`__session`" in text
    assert LONE_SESSION in text


def test_changelog() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "https://keepachangelog.com/" in text
    versions = re.findall(r"^## \[([^\]]+)\]", text, flags=re.MULTILINE)
    assert versions[0] == "Unreleased"
    assert versions[-1] == "0.1.0"
    assert __version__ in versions
    for title, body in _sections(text):
        headings = re.findall(r"^### (.+)$", body, flags=re.MULTILINE)
        allowed = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
        assert set(headings) <= allowed, f"{title}: {headings}"
        assert headings, f"{title} lists nothing"
