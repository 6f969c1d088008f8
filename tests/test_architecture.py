"""The layers hold: thin pages, reads and analytics that work outside Streamlit, every page behind the gate.

The package-level contracts (analytics imports nothing of ours, store no Streamlit, ingestion nothing of the
web app, no cycles) are import-linter's, in pyproject.toml, run by .ci/run; these tests cover what it cannot:
the page scripts, which are not a package.
"""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tests.conftest import ROOT

PAGES = sorted((ROOT / "pages").glob("*.py"))
# What a page may import: the read side's rooms, pure analytics, and a few store rules that are not I/O.
ALLOWED_PAGE_IMPORTS = (
    "dashboard.access",
    "dashboard.ui",
    "analytics",
    "store.calendar",
    "store.clock",
    "store.watchlists",
    "store.indices",  # the saved index definition (a value object and its rules), as watchlists
    "store.settings",
    "streamlit",
    "pandas",
    "numpy",
    "datetime",
    "json",
    "__future__",
)
FORBIDDEN_NAMES = {"get_engine", "create_db_engine", "execute", "begin", "connect"}


def imported_modules(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_pages_import_only_the_read_side_and_pure_analytics(page):
    tree = ast.parse(page.read_text())
    outside = [m for m in imported_modules(tree) if not m.startswith(ALLOWED_PAGE_IMPORTS)]
    assert outside == [], f"{page.name} imports {outside}: pages go through dashboard.ui loaders and dashboard.access"
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
    }
    assert not (names & FORBIDDEN_NAMES), f"{page.name} reaches the database: {sorted(names & FORBIDDEN_NAMES)}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_page_calls_the_gate_first(page):
    tree = ast.parse(page.read_text())
    calls = [
        node
        for node in tree.body
        if isinstance(node, ast.Expr | ast.Assign)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Attribute)
        and node.value.func.attr in ("require_login", "require_role")
    ]
    assert calls, f"{page.name} does not call gate.require_login() at the top"


def test_the_page_check_catches_a_page_that_reaches_the_database():
    bad = ast.parse("from store.db import get_engine\nengine = get_engine()\n")
    assert [m for m in imported_modules(bad) if not m.startswith(ALLOWED_PAGE_IMPORTS)] == ["store.db.get_engine"]


@pytest.mark.parametrize(
    "module", ["store.reads.core", "store.reads.market", "store.reads.macro", "store.reads.workers", "analytics.risk"]
)
def test_reads_and_analytics_load_without_streamlit(module):
    """The health check, the worker, the CLI and the API use them: Streamlit must not come along."""
    code = f"import sys, {module}; sys.exit(1 if 'streamlit' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=False).returncode == 0  # noqa: S603


def test_reads_work_on_a_plain_connection(sample_database_url):
    """No Streamlit, no cache: a connection in, frames out (as a notebook or the worker would call them)."""
    from datetime import date

    import sqlalchemy as sa

    from store.reads import core, macro, market

    engine = sa.create_engine(sample_database_url)
    with engine.connect() as conn:
        assert core.freshness(conn).as_of == date(2026, 6, 25)
        assert len(core.active_symbols(conn)) == 35
        wide = market.adjusted_closes(conn, ["AAPL", "SPY"], date(2024, 1, 2), date(2024, 1, 31))
        assert list(wide.columns) == ["AAPL", "SPY"] and len(wide) == 21
        assert macro.observations(conn, "DGS10", date(2024, 1, 2), date(2024, 1, 2)).tolist() == [3.95]
    engine.dispose()


def test_no_page_file_shadows_a_package():
    """A page runs with pages/ first on sys.path: pages/alerts.py would be what `import alerts` finds."""
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}
    assert not {p.stem for p in PAGES} & packages


def test_every_download_button_is_served_by_any_instance():
    """With several web instances a download's GET may reach another one: every button's file goes through
    exports.shared (README, Deploy), so a new button cannot forget it."""
    missing = []
    for path in [*PAGES, *sorted((ROOT / "dashboard" / "ui").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "download_button":
                data = (
                    node.args[1]
                    if len(node.args) > 1
                    else next((k.value for k in node.keywords if k.arg == "data"), None)
                )
                name = data.func if isinstance(data, ast.Call) else None
                if not (
                    isinstance(name, ast.Attribute | ast.Name)
                    and getattr(name, "attr", getattr(name, "id", "")) == "shared"
                ):
                    missing.append(f"{path.name}:{node.lineno}")
    assert missing == []
