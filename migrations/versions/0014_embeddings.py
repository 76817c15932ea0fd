"""Embeddings of contacts, accounts, deals, notes and activities for semantic search (pgvector, HNSW)

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27

pgvector lives in its own schema, `extensions`, so that the public schema keeps only our functions (which the app
role may execute one by one). Where the server has no pgvector (Debian's PostgreSQL 15 packages none), the
vectors are stored as `real[]` and semantic search scans them exactly in the application: correct, and fast
enough for small workspaces; docs/operations.md says to install pgvector 0.5 or later for HNSW.

`embeddings` is derived data the worker rewrites at any time (not audited). `content_hash` is the hash of the
text that was embedded, so an unchanged record is never embedded twice; `source_updated_at` is the record's
`updated_at` when it was read, the watermark of the next incremental pass.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.helpers import disable_tenant_rls, enable_tenant_rls

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENTITY_TYPES = ("contacts", "accounts", "deals", "notes", "activities")


def _has_pgvector() -> bool:
    bind = op.get_bind()
    return bool(bind.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")).scalar())


def upgrade() -> None:
    vector = _has_pgvector()
    if vector:
        op.execute("CREATE SCHEMA IF NOT EXISTS extensions")
        op.execute("CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA extensions")
        op.execute("GRANT USAGE ON SCHEMA extensions TO PUBLIC")
    column_type = "extensions.vector(384)" if vector else "real[]"
    types = ", ".join(f"'{t}'" for t in ENTITY_TYPES)
    op.execute(
        f"""
        CREATE TABLE embeddings (
          id uuid PRIMARY KEY,
          tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
          entity_type varchar(20) NOT NULL CONSTRAINT ck_embeddings_entity_type CHECK (entity_type IN ({types})),
          entity_id uuid NOT NULL,
          model varchar(60) NOT NULL,
          content_hash varchar(64) NOT NULL,
          embedding {column_type} NOT NULL,
          source_updated_at timestamptz NOT NULL,
          embedded_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.create_index(
        "uq_embeddings_entity", "embeddings", ["tenant_id", "entity_type", "entity_id"], unique=True
    )
    op.create_index(
        "ix_embeddings_watermark", "embeddings", ["tenant_id", "entity_type", "source_updated_at"], unique=False
    )
    if vector:
        # One HNSW graph per record type, so that a search of notes walks notes only.
        for entity_type in ENTITY_TYPES:
            op.execute(
                f"CREATE INDEX ix_embeddings_hnsw_{entity_type} ON embeddings"
                f" USING hnsw (embedding extensions.vector_cosine_ops) WHERE entity_type = '{entity_type}'"
            )
    enable_tenant_rls("embeddings")


def downgrade() -> None:
    disable_tenant_rls("embeddings")
    op.drop_table("embeddings")
    op.execute("DROP EXTENSION IF EXISTS vector")
    op.execute("DROP SCHEMA IF EXISTS extensions")
