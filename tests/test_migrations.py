"""The migration chain on an empty database: up to head, all the way down, up again, and no drift between
the models and the migrated schema."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL

from core.database_admin import alembic_config
from core.db import owner_engine, owner_url
from core.models import tenant_tables


@pytest.fixture
def empty_database() -> Iterator[URL]:
    name = f"cf_migr_{secrets.token_hex(4)}"
    admin = owner_engine().execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield owner_url().set(database=name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _schema(url: URL) -> dict[str, object]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                "tables": set(
                    conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
                ),
                "functions": set(
                    conn.execute(
                        text(
                            "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                            " WHERE n.nspname = 'public'"
                        )
                    ).scalars()
                ),
                "types": set(
                    conn.execute(
                        text(
                            "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
                            " WHERE n.nspname = 'public' AND t.typtype IN ('e', 'c')"
                            " AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.reltype = t.oid)"
                        )
                    ).scalars()
                ),
                "forced_rls": set(
                    conn.execute(
                        text("SELECT relname FROM pg_class WHERE relforcerowsecurity AND relrowsecurity")
                    ).scalars()
                ),
                "version": conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                if conn.execute(text("SELECT to_regclass('alembic_version')")).scalar()
                else None,
            }
    finally:
        engine.dispose()


def test_migrations_upgrade_downgrade_and_upgrade_again_without_drift(empty_database):
    cfg = alembic_config(url=empty_database)
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert _schema(empty_database)["tables"] == set()

    command.upgrade(cfg, "head")
    up = _schema(empty_database)
    assert up["version"] == head
    assert set(tenant_tables()) | {"permissions", "alembic_version"} <= up["tables"]
    assert any(t.startswith("procrastinate_") for t in up["tables"])
    assert up["forced_rls"] == set(tenant_tables())
    assert {
        "cf_current_tenant",
        "cf_audit_insert",
        "cf_audit_update",
        "cf_audit_delete",
        "cf_tenant_by_slug",
        "cf_api_key_by_prefix",
    } <= up["functions"]
    command.check(cfg)  # raises when the models and the migrated schema disagree

    command.downgrade(cfg, "base")
    down = _schema(empty_database)
    assert down["tables"] == {"alembic_version"}
    assert down["version"] is None
    assert not {f for f in down["functions"] if f.startswith(("cf_", "procrastinate"))}
    assert not {t for t in down["types"] if t.startswith("procrastinate")}

    command.upgrade(cfg, "head")
    again = _schema(empty_database)
    assert again == up
    command.check(cfg)
