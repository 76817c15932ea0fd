from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.modeling import IdMixin, SoftDeleteMixin, TenantMixin, TimestampMixin, VersionMixin
from core.records.columns import OwnedMixin

ACTIVITY_TYPES = ("call", "meeting", "email", "note", "other")
DIRECTIONS = ("inbound", "outbound")


class Activity(IdMixin, TenantMixin, OwnedMixin, TimestampMixin, SoftDeleteMixin, VersionMixin, Base):
    """A call, meeting or email logged against a contact, an account and/or a deal."""

    __tablename__ = "activities"
    __table_args__ = (
        Index("ix_activities_tenant_contact", "tenant_id", "contact_id", "occurred_at"),
        Index("ix_activities_tenant_account", "tenant_id", "account_id", "occurred_at"),
        Index("ix_activities_tenant_deal", "tenant_id", "deal_id", "occurred_at"),
        Index("ix_activities_tenant_owner", "tenant_id", "owner_id", "occurred_at"),
        Index("ix_activities_tenant_occurred", "tenant_id", "occurred_at"),
        Index("ix_activities_tenant_updated", "tenant_id", "updated_at"),  # the warehouse load's watermark
        CheckConstraint(f"type IN {ACTIVITY_TYPES}", name="ck_activities_type"),
        CheckConstraint(f"direction IS NULL OR direction IN {DIRECTIONS}", name="ck_activities_direction"),
        CheckConstraint("duration_seconds IS NULL OR duration_seconds >= 0", name="ck_activities_duration"),
        CheckConstraint(
            "contact_id IS NOT NULL OR account_id IS NOT NULL OR deal_id IS NOT NULL", name="ck_activities_related"
        ),
    )

    type: Mapped[str] = mapped_column(String(20), nullable=False)
    subject: Mapped[str] = mapped_column(String(255), nullable=False)
    body: Mapped[str | None] = mapped_column(Text)
    direction: Mapped[str | None] = mapped_column(String(10))
    outcome: Mapped[str | None] = mapped_column(String(100))
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    contact_id: Mapped[UUID | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    account_id: Mapped[UUID | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    deal_id: Mapped[UUID | None] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
