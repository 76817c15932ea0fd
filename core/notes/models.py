from __future__ import annotations

from uuid import UUID

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.modeling import IdMixin, SoftDeleteMixin, TenantMixin, TimestampMixin, VersionMixin
from core.records.columns import search_vector

NOTE_PARENTS = ("contacts", "accounts", "deals")


class Note(IdMixin, TenantMixin, TimestampMixin, SoftDeleteMixin, VersionMixin, Base):
    """A note on a contact, an account or a deal (polymorphic: entity type and id). Who may read it follows
    from who may read its parent record."""

    __tablename__ = "notes"
    __table_args__ = (
        Index(
            "ix_notes_tenant_entity",
            "tenant_id",
            "entity_type",
            "entity_id",
            "created_at",
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_notes_search", "search", postgresql_using="gin"),
        CheckConstraint(f"entity_type IN {NOTE_PARENTS}", name="ck_notes_entity_type"),
    )

    entity_type: Mapped[str] = mapped_column(String(20), nullable=False)
    entity_id: Mapped[UUID] = mapped_column(nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    is_pinned: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default="false")
    author_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    search: Mapped[str] = search_vector("coalesce(body, '')")
