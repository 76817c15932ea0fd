"""What enrichment keeps in PostgreSQL: the suggestions made for contacts' and accounts' fields (each with the
value it would replace, its confidence, its one-line reason and its source), the decisions people took on them,
and how far the worker's pass over changed records has got.

Suggestions are derived data (the worker rewrites open ones at any time), so they are not audited: accepting
one writes the record through its own service, and that write is audited, versioned and emits its event. A
rejected suggestion stays, so that the same suggestion (same record, field and value) is never made again.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Numeric, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.modeling import IdMixin, TenantMixin, TimestampMixin

ENTITY_TYPES = ("contacts", "accounts")
STATUSES = ("open", "accepted", "rejected")


class FieldSuggestion(IdMixin, TenantMixin, TimestampMixin, Base):
    """One proposed value for one field of one record. `current_value` is the field's value when the suggestion
    was made: a record whose field has changed since makes the suggestion stale (never applied). `fingerprint`
    identifies the proposal (field and suggested value), unique per record."""

    __tablename__ = "field_suggestions"
    __table_args__ = (
        Index(
            "uq_field_suggestions_proposal",
            "tenant_id",
            "entity_type",
            "entity_id",
            "field",
            "fingerprint",
            unique=True,
        ),
        Index("ix_field_suggestions_tenant_status", "tenant_id", "status", "computed_at"),
        CheckConstraint(f"entity_type IN {ENTITY_TYPES}", name="ck_field_suggestions_entity_type"),
        CheckConstraint(f"status IN {STATUSES}", name="ck_field_suggestions_status"),
        CheckConstraint("confidence BETWEEN 0 AND 1", name="ck_field_suggestions_confidence"),
        CheckConstraint("length(btrim(reason)) > 0", name="ck_field_suggestions_reason"),
        CheckConstraint("(status = 'open') = (decided_at IS NULL)", name="ck_field_suggestions_decided"),
    )

    entity_type: Mapped[str] = mapped_column(String(20), nullable=False)
    entity_id: Mapped[UUID] = mapped_column(nullable=False)
    field: Mapped[str] = mapped_column(String(50), nullable=False)
    current_value: Mapped[Any] = mapped_column(JSONB, nullable=True)
    suggested_value: Mapped[Any] = mapped_column(JSONB, nullable=False)
    suggested_label: Mapped[str] = mapped_column(String(300), nullable=False)
    confidence: Mapped[Decimal] = mapped_column(Numeric(4, 3), nullable=False)
    reason: Mapped[str] = mapped_column(String(300), nullable=False)
    source: Mapped[str] = mapped_column(String(100), nullable=False)
    model_version: Mapped[str | None] = mapped_column(String(100))
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="open", server_default="open")
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class EnrichmentState(IdMixin, TenantMixin, TimestampMixin, Base):
    """How far the worker's enrichment pass over changed contacts and accounts has got (one row per tenant)."""

    __tablename__ = "enrichment_state"
    __table_args__ = (Index("uq_enrichment_state_tenant", "tenant_id", unique=True),)

    enriched_through: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
