"""What anomaly detection keeps in PostgreSQL: every anomaly found (`anomalies`: one row per kind and record,
refreshed by the worker, dismissed by people) and the tenant's thresholds (`insight_settings`).

Anomalies are derived data the worker rewrites (not audited); a dismissal is kept with who and when, and a
dismissed anomaly stays dismissed while the worker keeps finding it. Settings are people's work: audited,
versioned, with updated_at.

Defaults (documented in docs and on the settings endpoint; each column's default below):
- amount_z 3.5: a deal amount is unusual when its robust z-score (log amount against the median and MAD of its
  segment: pipeline x owner's team x account industry) reaches 3.5 (about 1 in 2,000 by chance);
- amount_min_group 8: segments with fewer deals fall back to pipeline x team, then to the pipeline;
- close_push_min 2: an open deal whose expected close date was moved later at least twice;
- skip_min_stages 2: a forward move over at least two stages (one skipped stage is common practice);
- late_cut_pct 25, late_stages 2: the amount cut by 25% or more when the deal is in (or leaves) one of its
  pipeline's last two open stages;
- window_days 30, baseline_days 180: recent activity against the same-length average over the half year before;
- rep_activity_drop_pct 60, rep_min_baseline 20: a rep logging 60% fewer activities than usual (when usually at
  least 20 a window), and unlikely by chance (Poisson, p < 0.001);
- rep_win_p 0.01, rep_min_closed 8, win_window_days 90: a rep's win rate over the last 90 days below their own
  rate of the year before (one-sided binomial p < 0.01, at least 8 closed deals, and a drop of a third or more);
- engagement_drop_pct 75, engagement_min_baseline 6: an account's activity down 75% against its usual (at least
  6 a window), while it still has an open deal or was engaged steadily;
- lookback_days 120: deal anomalies are kept for open deals and deals closed in the last 120 days.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import ARRAY, CheckConstraint, DateTime, ForeignKey, Index, Integer, Numeric, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.modeling import IdMixin, TenantMixin, TimestampMixin, VersionMixin

CODES = (
    "amount_outlier",
    "close_date_pushed",
    "stage_backwards",
    "stage_skipped",
    "late_discount",
    "rep_activity_drop",
    "rep_win_rate_drop",
    "account_engagement_drop",
)
ENTITY_TYPES = ("deals", "accounts", "users")
SEVERITIES = ("low", "medium", "high")
STATUSES = ("open", "dismissed", "resolved")


class Anomaly(IdMixin, TenantMixin, Base):
    """One anomaly of kind `code` on one record: `reason` (one line a rep understands), `details` (the figures
    behind it), `severity`, `score` (how far from the norm: a z-score, a p-value's -log10...), which detector
    found it (`model`, `model_version`), when first (`detected_at`) and last (`computed_at`, the as-of time of the
    pass) and its `status` (open, dismissed by someone, resolved: no longer found)."""

    __tablename__ = "anomalies"
    __table_args__ = (
        Index("uq_anomalies_tenant_code_entity", "tenant_id", "code", "entity_type", "entity_id", unique=True),
        Index("ix_anomalies_tenant_entity", "tenant_id", "entity_type", "entity_id"),
        Index("ix_anomalies_tenant_status_detected", "tenant_id", "status", "detected_at"),
        CheckConstraint(f"code IN {CODES}", name="ck_anomalies_code"),
        CheckConstraint(f"entity_type IN {ENTITY_TYPES}", name="ck_anomalies_entity_type"),
        CheckConstraint(f"severity IN {SEVERITIES}", name="ck_anomalies_severity"),
        CheckConstraint(f"status IN {STATUSES}", name="ck_anomalies_status"),
        CheckConstraint("length(btrim(reason)) > 0", name="ck_anomalies_reason"),
        CheckConstraint("(status = 'dismissed') = (dismissed_at IS NOT NULL)", name="ck_anomalies_dismissed"),
    )

    code: Mapped[str] = mapped_column(String(40), nullable=False)
    entity_type: Mapped[str] = mapped_column(String(20), nullable=False)
    entity_id: Mapped[UUID] = mapped_column(nullable=False)
    severity: Mapped[str] = mapped_column(String(10), nullable=False)
    score: Mapped[Decimal | None] = mapped_column(Numeric(10, 3))
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict, server_default="{}")
    model: Mapped[str] = mapped_column(String(50), nullable=False)
    model_version: Mapped[str] = mapped_column(String(50), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="open", server_default="open")
    detected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    dismissed_by: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    dismissed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class InsightSettings(IdMixin, TenantMixin, TimestampMixin, VersionMixin, Base):
    """The tenant's anomaly thresholds (one row; the column defaults until an admin or manager changes one)."""

    __tablename__ = "insight_settings"
    __table_args__ = (
        Index("uq_insight_settings_tenant", "tenant_id", unique=True),
        CheckConstraint("amount_z BETWEEN 2 AND 20", name="ck_insight_settings_amount_z"),
        CheckConstraint("amount_min_group BETWEEN 3 AND 1000", name="ck_insight_settings_amount_group"),
        CheckConstraint("close_push_min BETWEEN 1 AND 20", name="ck_insight_settings_pushes"),
        CheckConstraint("skip_min_stages BETWEEN 1 AND 20", name="ck_insight_settings_skip"),
        CheckConstraint(
            "late_cut_pct BETWEEN 5 AND 95 AND late_stages BETWEEN 1 AND 10", name="ck_insight_settings_late"
        ),
        CheckConstraint(
            "window_days BETWEEN 7 AND 180 AND baseline_days BETWEEN 30 AND 730", name="ck_insight_settings_windows"
        ),
        CheckConstraint(
            "rep_activity_drop_pct BETWEEN 10 AND 100 AND rep_min_baseline BETWEEN 1 AND 100000",
            name="ck_insight_settings_rep_activity",
        ),
        CheckConstraint(
            "rep_win_p > 0 AND rep_win_p <= 0.2 AND rep_min_closed BETWEEN 3 AND 10000"
            " AND win_window_days BETWEEN 30 AND 365",
            name="ck_insight_settings_rep_win",
        ),
        CheckConstraint(
            "engagement_drop_pct BETWEEN 10 AND 100 AND engagement_min_baseline BETWEEN 1 AND 100000",
            name="ck_insight_settings_engagement",
        ),
        CheckConstraint("lookback_days BETWEEN 7 AND 3650", name="ck_insight_settings_lookback"),
        CheckConstraint(
            "disabled_codes <@ ARRAY[" + ", ".join(f"'{c}'" for c in CODES) + "]::varchar[]",
            name="ck_insight_settings_codes",
        ),
    )

    amount_z: Mapped[Decimal] = mapped_column(
        Numeric(4, 1), nullable=False, default=Decimal("3.5"), server_default="3.5"
    )
    amount_min_group: Mapped[int] = mapped_column(Integer, nullable=False, default=8, server_default="8")
    close_push_min: Mapped[int] = mapped_column(Integer, nullable=False, default=2, server_default="2")
    skip_min_stages: Mapped[int] = mapped_column(Integer, nullable=False, default=2, server_default="2")
    late_cut_pct: Mapped[int] = mapped_column(Integer, nullable=False, default=25, server_default="25")
    late_stages: Mapped[int] = mapped_column(Integer, nullable=False, default=2, server_default="2")
    window_days: Mapped[int] = mapped_column(Integer, nullable=False, default=30, server_default="30")
    baseline_days: Mapped[int] = mapped_column(Integer, nullable=False, default=180, server_default="180")
    rep_activity_drop_pct: Mapped[int] = mapped_column(Integer, nullable=False, default=60, server_default="60")
    rep_min_baseline: Mapped[int] = mapped_column(Integer, nullable=False, default=20, server_default="20")
    rep_win_p: Mapped[Decimal] = mapped_column(
        Numeric(5, 4), nullable=False, default=Decimal("0.01"), server_default="0.01"
    )
    rep_min_closed: Mapped[int] = mapped_column(Integer, nullable=False, default=8, server_default="8")
    win_window_days: Mapped[int] = mapped_column(Integer, nullable=False, default=90, server_default="90")
    engagement_drop_pct: Mapped[int] = mapped_column(Integer, nullable=False, default=75, server_default="75")
    engagement_min_baseline: Mapped[int] = mapped_column(Integer, nullable=False, default=6, server_default="6")
    lookback_days: Mapped[int] = mapped_column(Integer, nullable=False, default=120, server_default="120")
    disabled_codes: Mapped[list[str]] = mapped_column(
        ARRAY(String(40)), nullable=False, default=list, server_default="{}"
    )
