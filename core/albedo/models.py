"""Albedo's conversations (one user's each) and their messages (the seed's ai_conversations, ai_messages)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.modeling import IdMixin, TenantMixin

ROLES = ("user", "assistant", "system")
ENGINES = ("offline", "claude")


class Conversation(IdMixin, TenantMixin, Base):
    """A conversation of one user with Albedo; `context` is the record it was opened from, if any."""

    __tablename__ = "ai_conversations"
    __table_args__ = (
        Index("ix_ai_conversations_user", "tenant_id", "user_id", "last_message_at"),
        CheckConstraint("title IS NULL OR length(btrim(title)) > 0", name="ck_ai_conversations_title"),
    )

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    title: Mapped[str | None] = mapped_column(String(255))
    context: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_message_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class Message(IdMixin, TenantMixin, Base):
    """One turn: the user's words, or Albedo's reply with what it understood (`intent`, `entities`), what it did
    (`action_taken`), what it showed (`data`) and which engine answered."""

    __tablename__ = "ai_messages"
    __table_args__ = (
        Index("ix_ai_messages_conversation", "tenant_id", "conversation_id", "created_at"),
        CheckConstraint("role IN ('user', 'assistant', 'system')", name="ck_ai_messages_role"),
        CheckConstraint("engine IS NULL OR engine IN ('offline', 'claude')", name="ck_ai_messages_engine"),
    )

    conversation_id: Mapped[UUID] = mapped_column(ForeignKey("ai_conversations.id", ondelete="CASCADE"), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    intent: Mapped[str | None] = mapped_column(String(100))
    entities: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    action_taken: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    engine: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


PROPOSAL_STATUSES = ("pending", "confirmed", "cancelled", "failed", "undone")


class Proposal(IdMixin, TenantMixin, Base):
    """A write Albedo offered: what it would change (`changes`, record by record, old -> new), waiting for its
    user's confirmation. Nothing changes until `core.albedo.proposals.confirm`; `versions` are the records'
    versions when it was proposed (a record changed since makes confirming a 409), `result` what was done."""

    __tablename__ = "ai_proposals"
    __table_args__ = (
        Index("ix_ai_proposals_conversation", "tenant_id", "conversation_id", "created_at"),
        CheckConstraint(
            "status IN ('pending', 'confirmed', 'cancelled', 'failed', 'undone')", name="ck_ai_proposals_status"
        ),
    )

    conversation_id: Mapped[UUID] = mapped_column(ForeignKey("ai_conversations.id", ondelete="CASCADE"), nullable=False)
    message_id: Mapped[UUID | None] = mapped_column(ForeignKey("ai_messages.id", ondelete="SET NULL"))
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    action: Mapped[str] = mapped_column(String(40), nullable=False)
    arguments: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    versions: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    summary: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending", server_default="pending")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
