"""The Streamlit entry routes to the home page, and pages stay away from SQL, drivers and the API."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("sqlalchemy", "psycopg", "api")


def test_home_page_says_what_clientforge_is_and_links_the_api_docs() -> None:
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "ClientForge"
    assert "CRM" in at.markdown[0].value
    assert any("/api/v1/docs" in caption.value for caption in at.caption)


@pytest.mark.parametrize(
    "path", sorted((ROOT / "pages").glob("*.py")) + [ROOT / "app" / "main.py"], ids=lambda p: p.name
)
def test_ui_scripts_do_not_import_sql_drivers_or_the_api(path: Path) -> None:
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & set(FORBIDDEN)
