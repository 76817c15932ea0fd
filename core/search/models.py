"""Embeddings of records for semantic search (table `embeddings`, migration 0014).

Derived data: the worker writes it (ai/nlp/store.py) from the records' text and rewrites it at any time, so it
is not audited. The vector column is pgvector's `vector(384)` in the `extensions` schema, or `real[]` where the
server has no pgvector; every write and search goes through ai/nlp/store.py, which knows which.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import CheckConstraint, DateTime, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import UserDefinedType

from core.db import Base
from core.modeling import IdMixin, TenantMixin

EMBEDDED_TYPES = ("contacts", "accounts", "deals", "notes", "activities")


class StoredVector(UserDefinedType[Any]):
    """pgvector's `vector(384)` or `real[]`, whichever the server has: values pass through as the driver gives
    them (text like '[0.1,...]', or a list); ai/nlp/store.py parses them."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "extensions.vector(384)"


class Embedding(IdMixin, TenantMixin, Base):
    """One record's vector: which model made it from which text (`content_hash`), and the record's `updated_at`
    when it was read (`source_updated_at`, the watermark of incremental passes)."""

    __tablename__ = "embeddings"
    __table_args__ = (
        Index("uq_embeddings_entity", "tenant_id", "entity_type", "entity_id", unique=True),
        Index("ix_embeddings_watermark", "tenant_id", "entity_type", "source_updated_at"),
        Index("ix_embeddings_content", "tenant_id", "content_hash"),
        CheckConstraint(
            "entity_type IN ('contacts', 'accounts', 'deals', 'notes', 'activities')",
            name="ck_embeddings_entity_type",
        ),
    )

    entity_type: Mapped[str] = mapped_column(String(20), nullable=False)
    entity_id: Mapped[UUID] = mapped_column(nullable=False)
    model: Mapped[str] = mapped_column(String(60), nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    embedding: Mapped[Any] = mapped_column(StoredVector(), nullable=False)
    source_updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    embedded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
