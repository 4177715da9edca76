"""Pages that must agree with the code, and the site build.

- docs/reasons.md: every reason of ``REASONS`` is in the table with its status and
  RFC 6750 error code, has its own section, and its default message is quoted.
- docs/configuration.md: every ``ClerkConfig`` and ``JwksPolicy`` field is in a table
  with its default, and every ``CLERK_*`` variable ``from_env`` reads is named.
- docs/api.md: a row for exactly the names each public package exports.
- ``mkdocs build --strict`` succeeds (skipped when mkdocs is not installed).
"""

from __future__ import annotations

import ast
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from clerk_auth_core import REASONS, AcceptsToken, ClerkConfig, JwksPolicy

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
#: Pages other people write; until they land, the site build uses a stub in their place.
PAGES_BY_OTHERS = ("flask.md", "starlette.md", "fastapi.md", "demo.md", "cli.md")


def _table_rows(text: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not re.fullmatch(r"[|\s:-]+", line):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def _code_spans(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


# -- API reference ---------------------------------------------------------------------

PUBLIC_PACKAGES = (
    "clerk_auth_core",
    "clerk_auth_core.io",
    "clerk_auth_core.testing",
    "clerk_auth_core.cli",
    "clerk_auth_flask",
    "clerk_auth_starlette",
    "clerk_auth_starlette.fastapi",
    "clerk_auth_django",
    "clerk_auth_django.drf",
)


def test_api_reference_lists_exactly_the_exported_names() -> None:
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    sections = re.split(r"^## `([a-z_.]+)`$", text, flags=re.MULTILINE)
    listed = {
        sections[i]: [_code_spans(cells[0])[0].removesuffix("()") for cells in
                      _table_rows(sections[i + 1])[1:]]
        for i in range(1, len(sections), 2)
    }  # fmt: skip
    assert list(listed) == list(PUBLIC_PACKAGES)
    for name in PUBLIC_PACKAGES:
        module = importlib.import_module(name)
        assert listed[name] == list(module.__all__), name


# -- reasons ----------------------------------------------------------------------------


def _reason_rows() -> dict[str, tuple[str, str]]:
    text = (DOCS / "reasons.md").read_text(encoding="utf-8")
    rows: dict[str, tuple[str, str]] = {}
    for cells in _table_rows(text):
        spans = _code_spans(cells[0])
        if len(cells) >= 3 and spans and re.fullmatch(r"[a-z]+(-[a-z]+)+", spans[0]):
            assert spans[0] not in rows, f"{spans[0]} is in the table twice"
            rows[spans[0]] = (cells[1], cells[2])
    return rows


def test_reasons_table_lists_exactly_the_reasons() -> None:
    assert set(_reason_rows()) == set(REASONS)


@pytest.mark.parametrize("reason", sorted(REASONS))
def test_reason_documented_with_its_answer(reason: str) -> None:
    info = REASONS[reason]
    status, error_cell = _reason_rows()[reason]
    assert status == str(info.status), f"{reason}: the page says {status}, the code {info.status}"
    codes = _code_spans(error_cell)
    if info.bearer_error is None:
        assert not {"invalid_token", "insufficient_scope"} & set(codes), error_cell
    else:
        assert codes, f"{reason}: no error code shown"
        assert codes[0] == info.bearer_error, f"{reason}: error code {error_cell}"
    if info.status == 503:
        assert "Retry-After" in error_cell
    text = (DOCS / "reasons.md").read_text(encoding="utf-8")
    assert f"### `{reason}`" in text, f"{reason} has no section"
    assert info.message in text, f"{reason}: its message {info.message!r} is not quoted"


# -- configuration ----------------------------------------------------------------------


def _config_rows() -> dict[str, list[str]]:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    rows: dict[str, list[str]] = {}
    for cells in _table_rows(text):
        spans = _code_spans(cells[0])
        if spans and re.fullmatch(r"[a-z_]+", spans[0]):
            rows.setdefault(spans[0], cells)
    return rows


def _fields(cls: type) -> list[attrs.Attribute]:  # type: ignore[type-arg]
    return [a for a in attrs.fields(cls) if a.init]


@pytest.mark.parametrize(
    ("cls", "field"),
    [(cls, a.name) for cls in (ClerkConfig, JwksPolicy) for a in _fields(cls)],
    ids=lambda v: v if isinstance(v, str) else v.__name__,
)
def test_config_field_documented_with_its_default(cls: type, field: str) -> None:
    rows = _config_rows()
    assert field in rows, f"{cls.__name__}.{field} is missing from docs/configuration.md"
    attribute = attrs.fields_dict(cls)[field]
    default = attribute.default
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        default = default.factory()
    shown = _code_spans(rows[field][1])
    assert shown, f"{field}: no default shown"
    if isinstance(default, JwksPolicy):
        assert shown[0] == "JwksPolicy()"
    elif isinstance(default, AcceptsToken):
        assert AcceptsToken(ast.literal_eval(shown[0])) == default, f"{field}: {shown[0]}"
    else:
        page_value = ast.literal_eval(shown[0])
        assert page_value == default, f"{field}: page {shown[0]}, code {default!r}"
        assert type(page_value) is type(default), f"{field}: page {shown[0]}, code {default!r}"


def test_every_environment_variable_documented() -> None:
    from clerk_auth_core import _config

    source = Path(_config.__file__).read_text(encoding="utf-8")
    variables = set(re.findall(r'"(CLERK_[A-Z_]+)"', source))
    assert "CLERK_AUTHORIZED_PARTIES" in variables
    rows = _config_rows()
    shown = {var for cells in rows.values() if len(cells) > 2 for var in _code_spans(cells[2])}
    assert variables <= shown, f"not in the table: {sorted(variables - shown)}"


# -- the site ---------------------------------------------------------------------------


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None, reason="mkdocs not installed")
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(DOCS, tmp_path / "docs")
    stubbed = []
    for page in PAGES_BY_OTHERS:
        if not (tmp_path / "docs" / page).exists():
            stubbed.append(page)
            (tmp_path / "docs" / page).write_text(f"# {page}\n\nNot written yet.\n")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    if stubbed:
        print(f"built with stubs for pages not written yet: {', '.join(stubbed)}")
