"""What lead scoring keeps in PostgreSQL: every score given (the seed's `lead_scores`, the history behind a
contact's trend and the A/B comparison), the admin's points rules (the transparent score used before a tenant
has enough outcomes to learn from) and the tenant's scoring settings (what counts as converted, the cold-start
thresholds, the A/B split).

Scores are derived data the worker rewrites at any time, so they are not audited; rules and settings are
people's work: audited, versioned. The contact's current score lives on `contacts.lead_score`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import ARRAY, Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, Numeric, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.modeling import IdMixin, TenantMixin, TimestampMixin, VersionMixin

ARMS = ("champion", "challenger")
OPERATORS = ("equals", "not_equals", "in", "contains", "gt", "gte", "lt", "lte", "is_set", "is_not_set")
# Contact lifecycle stages that count as converted unless the tenant chooses otherwise (a won deal always does).
DEFAULT_CONVERTED_STAGES = ("opportunity", "customer", "evangelist")


class LeadScore(IdMixin, TenantMixin, Base):
    """One score given to one lead (the seed's `lead_scores`): by which model or rules (`model_id`), in which
    A/B arm, with the reasons (`factors`: [{feature, text, points}], strongest first)."""

    __tablename__ = "lead_scores"
    __table_args__ = (
        Index("ix_lead_scores_tenant_contact_scored", "tenant_id", "contact_id", "scored_at"),
        Index("ix_lead_scores_tenant_score", "tenant_id", "score"),
        Index("ix_lead_scores_model", "model_id"),
        CheckConstraint("score BETWEEN 0 AND 100", name="ck_lead_scores_score"),
        CheckConstraint("confidence IS NULL OR confidence BETWEEN 0 AND 1", name="ck_lead_scores_confidence"),
        CheckConstraint(
            "predicted_conversion_probability IS NULL OR predicted_conversion_probability BETWEEN 0 AND 1",
            name="ck_lead_scores_probability",
        ),
        CheckConstraint("predicted_revenue IS NULL OR predicted_revenue >= 0", name="ck_lead_scores_revenue"),
        CheckConstraint(f"arm IN {ARMS}", name="ck_lead_scores_arm"),
    )

    contact_id: Mapped[UUID] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False)
    model_id: Mapped[UUID] = mapped_column(ForeignKey("ml_models.id", ondelete="CASCADE"), nullable=False)
    score: Mapped[int] = mapped_column(Integer, nullable=False)
    confidence: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    factors: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, default=list, server_default="[]")
    predicted_conversion_probability: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    predicted_revenue: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    arm: Mapped[str] = mapped_column(String(10), nullable=False, default="champion", server_default="champion")
    scored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class ScoringRule(IdMixin, TenantMixin, TimestampMixin, VersionMixin, Base):
    """Points for a field value ("Lead source is Webinar: +15"), HubSpot's manual scoring: the score a tenant
    gets until a trained model beats it. `field` names a lead feature (docs/scoring.md lists them)."""

    __tablename__ = "scoring_rules"
    __table_args__ = (
        Index("ix_scoring_rules_tenant", "tenant_id", "field"),
        CheckConstraint(f"operator IN {OPERATORS}", name="ck_scoring_rules_operator"),
        CheckConstraint("points BETWEEN -100 AND 100 AND points <> 0", name="ck_scoring_rules_points"),
        CheckConstraint("length(btrim(field)) > 0", name="ck_scoring_rules_field"),
    )

    field: Mapped[str] = mapped_column(String(100), nullable=False)
    operator: Mapped[str] = mapped_column(String(20), nullable=False)
    value: Mapped[Any] = mapped_column(JSONB, nullable=True)
    points: Mapped[int] = mapped_column(Integer, nullable=False)
    label: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default="true")
    created_by: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class ScoringSettings(IdMixin, TenantMixin, TimestampMixin, VersionMixin, Base):
    """A tenant's lead-scoring settings (one row; defaults until an admin changes them)."""

    __tablename__ = "scoring_settings"
    __table_args__ = (
        Index("uq_scoring_settings_tenant", "tenant_id", unique=True),
        CheckConstraint("idle_days BETWEEN 7 AND 3650", name="ck_scoring_settings_idle"),
        CheckConstraint("min_outcomes >= 20 AND min_conversions >= 5", name="ck_scoring_settings_thresholds"),
        CheckConstraint("rules_base BETWEEN 0 AND 100", name="ck_scoring_settings_base"),
        CheckConstraint("challenger_share BETWEEN 0 AND 1", name="ck_scoring_settings_share"),
        CheckConstraint("retrain_every_days BETWEEN 1 AND 365", name="ck_scoring_settings_retrain"),
    )

    converted_stages: Mapped[list[str]] = mapped_column(
        ARRAY(String(50)), nullable=False, default=lambda: list(DEFAULT_CONVERTED_STAGES)
    )
    idle_days: Mapped[int] = mapped_column(Integer, nullable=False, default=90, server_default="90")
    min_outcomes: Mapped[int] = mapped_column(Integer, nullable=False, default=200, server_default="200")
    min_conversions: Mapped[int] = mapped_column(Integer, nullable=False, default=30, server_default="30")
    rules_base: Mapped[int] = mapped_column(Integer, nullable=False, default=20, server_default="20")
    challenger_model_id: Mapped[UUID | None] = mapped_column(ForeignKey("ml_models.id", ondelete="SET NULL"))
    challenger_share: Mapped[Decimal] = mapped_column(
        Numeric(3, 2), nullable=False, default=Decimal("0.5"), server_default="0.5"
    )
    retrain_every_days: Mapped[int] = mapped_column(Integer, nullable=False, default=7, server_default="7")
    # how far the worker's rescoring of changed leads has got (rows changed after it are rescored next)
    rescored_through: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
