"""Embeddings found by their content hash, so that a text the workspace has embedded before is copied, not embedded

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-27

Records built from templates repeat their text (calls titled "Follow-up call", notes from a playbook): the large
demo's 4.9 million records hold 2.4 million distinct texts. ai/nlp/store.py copies the vector of a known content
hash (same model, same text) instead of running the model again; this index finds it.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_embeddings_content", "embeddings", ["tenant_id", "content_hash"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_embeddings_content", table_name="embeddings")
