from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.modeling import IdMixin, SoftDeleteMixin, TenantMixin, TimestampMixin, VersionMixin
from core.records.columns import OwnedMixin, TagsMixin, coalesced, search_vector


class Deal(IdMixin, TenantMixin, OwnedMixin, TagsMixin, TimestampMixin, SoftDeleteMixin, VersionMixin, Base):
    """An opportunity on a pipeline stage: the seed's deals table, with the stage as a reference."""

    __tablename__ = "deals"
    __table_args__ = (
        Index("ix_deals_tenant_owner", "tenant_id", "owner_id", postgresql_where=text("deleted_at IS NULL")),
        Index(
            "ix_deals_tenant_stage", "tenant_id", "pipeline_id", "stage_id", postgresql_where=text("deleted_at IS NULL")
        ),
        Index("ix_deals_tenant_close", "tenant_id", "expected_close_date", postgresql_where=text("deleted_at IS NULL")),
        Index("ix_deals_tenant_account", "tenant_id", "account_id"),
        Index("ix_deals_tenant_updated", "tenant_id", "updated_at"),  # the warehouse load's watermark
        Index("ix_deals_tenant_contact", "tenant_id", "contact_id"),
        Index("ix_deals_tenant_created", "tenant_id", "created_at", "id", postgresql_where=text("deleted_at IS NULL")),
        Index("ix_deals_tags", "tags", postgresql_using="gin"),
        Index("ix_deals_search", "search", postgresql_using="gin"),
        CheckConstraint("amount IS NULL OR amount >= 0", name="ck_deals_amount"),
        CheckConstraint("probability BETWEEN 0 AND 100", name="ck_deals_probability"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="ck_deals_currency"),
        CheckConstraint("is_won IS NULL OR is_closed", name="ck_deals_won_is_closed"),
        CheckConstraint("NOT is_closed OR actual_close_date IS NOT NULL", name="ck_deals_closed_has_date"),
        CheckConstraint(
            "forecast_category IS NULL OR forecast_category IN ('commit', 'best_case', 'pipeline', 'omitted')",
            name="ck_deals_forecast_category",
        ),
    )

    pipeline_id: Mapped[UUID] = mapped_column(ForeignKey("pipelines.id"), nullable=False)
    stage_id: Mapped[UUID] = mapped_column(ForeignKey("deal_stages.id"), nullable=False)
    account_id: Mapped[UUID | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    contact_id: Mapped[UUID | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="USD", server_default="USD")
    probability: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    expected_close_date: Mapped[date | None] = mapped_column(Date)
    actual_close_date: Mapped[date | None] = mapped_column(Date)
    lead_source: Mapped[str | None] = mapped_column(String(100))
    next_step: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    is_closed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default="false")
    is_won: Mapped[bool | None] = mapped_column(Boolean)
    lost_reason: Mapped[str | None] = mapped_column(String(255))
    stage_entered_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    search: Mapped[str] = search_vector(coalesced("name", "lead_source", "next_step"))
    # Set by the owner for the forecast (commit, best_case, pipeline, omitted); NULL: derived (core/forecasts).
    forecast_category: Mapped[str | None] = mapped_column(String(20))


class DealStageHistory(IdMixin, TenantMixin, Base):
    """One row per stage change (and one for the stage a deal was created in): time in stage, velocity and
    past pipelines are computed from these."""

    __tablename__ = "deal_stage_history"
    __table_args__ = (
        Index("ix_deal_stage_history_tenant_deal", "tenant_id", "deal_id", "changed_at"),
        Index("ix_deal_stage_history_tenant_changed", "tenant_id", "changed_at"),
    )

    deal_id: Mapped[UUID] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"), nullable=False)
    from_stage_id: Mapped[UUID | None] = mapped_column(ForeignKey("deal_stages.id"))
    to_stage_id: Mapped[UUID] = mapped_column(ForeignKey("deal_stages.id"), nullable=False)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    changed_by: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    probability: Mapped[int | None] = mapped_column(Integer)
