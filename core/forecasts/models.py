"""What forecasting keeps in PostgreSQL: the model registry (the seed's `ml_models`, shared by every learned
thing), revenue forecasts (the seed's `sales_forecasts` and `forecast_breakdown`) and sales quotas.

Forecasts and their breakdowns are derived data: the forecasting job (ai/forecasting/tasks.py) rebuilds them
from the warehouse at any time, so they are not audited. Quotas are people's work: audited, versioned.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.modeling import IdMixin, TenantMixin, TimestampMixin, VersionMixin

LEVELS = ("company", "team", "rep")
PERIODS = ("month", "quarter", "year")
FORECAST_KINDS = ("live", "backtest")
# A deal's forecast category as its owner sets it (deals.forecast_category); NULL means derived.
DEAL_CATEGORIES = ("commit", "best_case", "pipeline", "omitted")
BREAKDOWN_CATEGORIES = ("won", *DEAL_CATEGORIES)
CATEGORY_SOURCES = ("owner", "derived", "closed")


class MlModel(IdMixin, TenantMixin, Base):
    """One trained or configured model or method (the seed's `ml_models`): what it is, on which window it
    learned, how well it did on data it did not see, and whether it is the one in use. Written through
    `ai.models` (the registry); forecasts and scores point at the row that made them."""

    __tablename__ = "ml_models"
    __table_args__ = (
        Index("uq_ml_models_tenant_type_version", "tenant_id", "model_type", "version", unique=True),
        Index("ix_ml_models_tenant_type_trained", "tenant_id", "model_type", "trained_at"),
        CheckConstraint("length(btrim(model_type)) > 0", name="ck_ml_models_type"),
        CheckConstraint("length(btrim(version)) > 0", name="ck_ml_models_version"),
        CheckConstraint(
            "training_data_start_date IS NULL OR training_data_end_date IS NULL"
            " OR training_data_start_date <= training_data_end_date",
            name="ck_ml_models_window",
        ),
        CheckConstraint(
            "(accuracy_score IS NULL OR accuracy_score BETWEEN 0 AND 1)"
            " AND (precision_score IS NULL OR precision_score BETWEEN 0 AND 1)"
            " AND (recall_score IS NULL OR recall_score BETWEEN 0 AND 1)"
            " AND (f1_score IS NULL OR f1_score BETWEEN 0 AND 1)",
            name="ck_ml_models_scores",
        ),
        CheckConstraint("artifact_sha256 IS NULL OR artifact_sha256 ~ '^[0-9a-f]{64}$'", name="ck_ml_models_sha"),
    )

    model_type: Mapped[str] = mapped_column(String(100), nullable=False)  # revenue_forecast, lead_scoring, ...
    version: Mapped[str] = mapped_column(String(50), nullable=False)
    algorithm: Mapped[str | None] = mapped_column(String(100))
    training_data_start_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    training_data_end_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accuracy_score: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    precision_score: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    recall_score: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    f1_score: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict, server_default="{}")
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default="false")
    model_file_path: Mapped[str | None] = mapped_column(String(500))
    artifact_sha256: Mapped[str | None] = mapped_column(String(64))
    feature_importance: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    hyperparameters: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    trained_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class SalesForecast(IdMixin, TenantMixin, Base):
    """One revenue forecast: a level (company, a team, a rep), a period (month, quarter, year) and the day it
    was made as of (`forecast_date`). `kind` is `live` (made by the job for the period in progress) or
    `backtest` (what the method would have said at the start of a past period, knowing only what was known
    then). `forecasted_revenue` = booked + pipeline + run-rate; the 80% interval is the seed's
    confidence_interval_low/high, the 95% one is beside it. `actual_revenue` and `accuracy_percentage` are filled
    once the period has closed."""

    __tablename__ = "sales_forecasts"
    __table_args__ = (
        Index(
            "uq_sales_forecasts_key",
            "tenant_id",
            "kind",
            "level",
            "team_id",
            "user_id",
            "forecast_period",
            "period_start_date",
            "forecast_date",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
        Index("ix_sales_forecasts_tenant_period", "tenant_id", "forecast_period", "period_start_date"),
        Index("ix_sales_forecasts_tenant_user", "tenant_id", "user_id"),
        Index("ix_sales_forecasts_tenant_team", "tenant_id", "team_id"),
        Index("ix_sales_forecasts_model", "model_id"),
        CheckConstraint(f"level IN {LEVELS}", name="ck_sales_forecasts_level"),
        CheckConstraint(f"forecast_period IN {PERIODS}", name="ck_sales_forecasts_period"),
        CheckConstraint(f"kind IN {FORECAST_KINDS}", name="ck_sales_forecasts_kind"),
        CheckConstraint(
            "(level = 'company' AND user_id IS NULL AND team_id IS NULL)"
            " OR (level = 'team' AND team_id IS NOT NULL AND user_id IS NULL)"
            " OR (level = 'rep' AND user_id IS NOT NULL)",
            name="ck_sales_forecasts_subject",
        ),
        CheckConstraint("period_start_date <= period_end_date", name="ck_sales_forecasts_dates"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="ck_sales_forecasts_currency"),
        CheckConstraint(
            "confidence_interval_low IS NULL OR confidence_interval_high IS NULL"
            " OR confidence_interval_low <= confidence_interval_high",
            name="ck_sales_forecasts_interval",
        ),
    )

    kind: Mapped[str] = mapped_column(String(10), nullable=False, default="live", server_default="live")
    level: Mapped[str] = mapped_column(String(10), nullable=False)
    user_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    team_id: Mapped[UUID | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    forecast_period: Mapped[str] = mapped_column(String(10), nullable=False)
    period_start_date: Mapped[date] = mapped_column(Date, nullable=False)
    period_end_date: Mapped[date] = mapped_column(Date, nullable=False)
    forecast_date: Mapped[date] = mapped_column(Date, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    forecasted_revenue: Mapped[Decimal] = mapped_column(Numeric(15, 2), nullable=False)
    confidence_interval_low: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    confidence_interval_high: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    confidence_interval_low_95: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    confidence_interval_high_95: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    booked_revenue: Mapped[Decimal] = mapped_column(Numeric(15, 2), nullable=False, server_default="0")
    pipeline_revenue: Mapped[Decimal] = mapped_column(Numeric(15, 2), nullable=False, server_default="0")
    run_rate_revenue: Mapped[Decimal] = mapped_column(Numeric(15, 2), nullable=False, server_default="0")
    commit_amount: Mapped[Decimal] = mapped_column(Numeric(15, 2), nullable=False, server_default="0")
    best_case_amount: Mapped[Decimal] = mapped_column(Numeric(15, 2), nullable=False, server_default="0")
    pipeline_amount: Mapped[Decimal] = mapped_column(Numeric(15, 2), nullable=False, server_default="0")
    actual_revenue: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    accuracy_percentage: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    model_id: Mapped[UUID | None] = mapped_column(ForeignKey("ml_models.id", ondelete="SET NULL"))
    backtest: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict, server_default="{}")
    generated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class ForecastBreakdown(IdMixin, TenantMixin, Base):
    """One deal's part in a forecast (the seed's `forecast_breakdown`): a won deal of the period counts in full
    (category `won`), an open deal by its learned probability of closing won within the rest of the period."""

    __tablename__ = "forecast_breakdown"
    __table_args__ = (
        Index("ix_forecast_breakdown_tenant_forecast", "tenant_id", "forecast_id"),
        Index("ix_forecast_breakdown_deal", "deal_id"),
        CheckConstraint(f"category IN {BREAKDOWN_CATEGORIES}", name="ck_forecast_breakdown_category"),
        CheckConstraint(f"category_source IN {CATEGORY_SOURCES}", name="ck_forecast_breakdown_category_source"),
        CheckConstraint(
            "confidence_percentage IS NULL OR confidence_percentage BETWEEN 0 AND 100",
            name="ck_forecast_breakdown_confidence",
        ),
    )

    forecast_id: Mapped[UUID] = mapped_column(ForeignKey("sales_forecasts.id", ondelete="CASCADE"), nullable=False)
    deal_id: Mapped[UUID | None] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    expected_close_date: Mapped[date | None] = mapped_column(Date)
    forecasted_amount: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    confidence_percentage: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    category: Mapped[str] = mapped_column(String(20), nullable=False)
    category_source: Mapped[str] = mapped_column(String(10), nullable=False)
    stage_id: Mapped[UUID | None] = mapped_column(ForeignKey("deal_stages.id", ondelete="SET NULL"))
    age_days: Mapped[int | None] = mapped_column(Integer)


class Quota(IdMixin, TenantMixin, TimestampMixin, VersionMixin, Base):
    """A sales target: one rep's or one team's, for one month, quarter or (fiscal) year, in a currency."""

    __tablename__ = "quotas"
    __table_args__ = (
        Index(
            "uq_quotas_tenant_user_period",
            "tenant_id",
            "user_id",
            "period",
            "period_start_date",
            unique=True,
            postgresql_where=text("user_id IS NOT NULL"),
        ),
        Index(
            "uq_quotas_tenant_team_period",
            "tenant_id",
            "team_id",
            "period",
            "period_start_date",
            unique=True,
            postgresql_where=text("team_id IS NOT NULL"),
        ),
        Index("ix_quotas_tenant_period", "tenant_id", "period", "period_start_date"),
        CheckConstraint("num_nonnulls(user_id, team_id) = 1", name="ck_quotas_subject"),
        CheckConstraint(f"period IN {PERIODS}", name="ck_quotas_period"),
        CheckConstraint("period_start_date <= period_end_date", name="ck_quotas_dates"),
        CheckConstraint("amount >= 0", name="ck_quotas_amount"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="ck_quotas_currency"),
    )

    user_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    team_id: Mapped[UUID | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(10), nullable=False)
    period_start_date: Mapped[date] = mapped_column(Date, nullable=False)
    period_end_date: Mapped[date] = mapped_column(Date, nullable=False)
    amount: Mapped[Decimal] = mapped_column(Numeric(15, 2), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    created_by: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
