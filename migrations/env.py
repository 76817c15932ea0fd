"""Alembic runs as the owner role; the URL comes from settings (or `-x url=...` / config attribute)."""

from alembic import context
from sqlalchemy import create_engine, pool

import core.models  # noqa: F401  (registers every table)
from core.db import Base, owner_url, to_psycopg_url

config = context.config
target_metadata = Base.metadata

# Tables managed outside SQLAlchemy models (procrastinate's queue) are not drift.
EXTERNAL_PREFIXES = ("procrastinate_",)


def include_object(obj, name, type_, reflected, compare_to):  # noqa: ANN001
    # The vector column and its HNSW indexes depend on whether the server has pgvector (migration 0014).
    if type_ == "index" and name and name.startswith("ix_embeddings_hnsw_"):
        return False
    if type_ == "column" and name == "embedding" and getattr(obj, "table", None) is not None:
        return obj.table.name != "embeddings"
    if type_ == "table" and name and name.startswith(EXTERNAL_PREFIXES):
        return False
    if type_ in ("index", "foreign_key_constraint", "unique_constraint") and getattr(obj, "table", None) is not None:
        return not obj.table.name.startswith(EXTERNAL_PREFIXES)
    return True


def _url():
    explicit = config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
    return to_psycopg_url(explicit) if explicit else owner_url()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        compare_type=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
