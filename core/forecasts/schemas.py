"""Quotas, stored revenue forecasts and forecast runs as the API and the pages exchange them (camelCase)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import AliasChoices, Field, model_validator

from core.deals.schemas import Amount
from core.pipelines.schemas import Currency
from core.schemas import ReadSchema, Schema

Level = Literal["company", "team", "rep"]
PeriodKind = Literal["month", "quarter", "year"]
DealCategory = Literal["commit", "best_case", "pipeline", "omitted"]


class QuotaCreate(Schema):
    """A rep's (`userId`) or a team's (`teamId`) target for one period starting on `periodStart`."""

    user_id: UUID | None = Field(None, description="The rep; give this or teamId.")
    team_id: UUID | None = Field(None, description="The team; give this or userId.")
    period: PeriodKind
    period_start: date = Field(description="The first day of the month, fiscal quarter or fiscal year.")
    amount: Amount
    currency: Currency | None = Field(None, description="Default and only value: the workspace currency.")

    @model_validator(mode="after")
    def _one_subject(self) -> QuotaCreate:
        if (self.user_id is None) == (self.team_id is None):
            raise ValueError("give exactly one of userId (a rep's quota) or teamId (a team's quota)")
        return self


class QuotaUpdate(Schema):
    amount: Amount | None = None
    currency: Currency | None = None
    version: int | None = Field(None, description="Current version for optimistic locking (409 when stale).")


class QuotaRead(ReadSchema):
    id: UUID
    user_id: UUID | None
    team_id: UUID | None
    period: str
    period_start: date = Field(validation_alias=AliasChoices("period_start_date", "periodStart", "period_start"))
    period_end: date = Field(validation_alias=AliasChoices("period_end_date", "periodEnd", "period_end"))
    amount: Decimal
    currency: str
    created_by: UUID | None
    created_at: datetime
    updated_at: datetime
    version: int


class ForecastRunRequest(Schema):
    """What to (re)compute; everything is optional. The job answers at /jobs/{id} with progress."""

    as_of: date | None = Field(None, description="The day the forecast is made as of; default: today (workspace).")
    levels: list[Level] | None = Field(None, description="Default: company, team and rep.")
    periods: list[PeriodKind] | None = Field(None, description="Default: month, quarter and year.")
    backtest_periods: int | None = Field(
        None,
        ge=0,
        le=24,
        description="Past periods of each kind to back-test (default: 12 months, 8 quarters, 3 years).",
    )


class DealCategoryUpdate(Schema):
    category: DealCategory | None = Field(description="commit, best_case, pipeline, omitted; null: derived again.")


class QuotaAttainment(ReadSchema):
    quota: Decimal | None = Field(description="The quota of this rep or team (company: its teams' sum) for the period.")
    booked: Decimal
    forecast: Decimal
    attainment: float | None = Field(description="Booked revenue / quota.")
    forecast_attainment: float | None = Field(description="Forecast revenue / quota.")
    gap: Decimal | None = Field(description="Quota - forecast (negative: the forecast is above quota).")


class BacktestSummary(ReadSchema):
    periods: int
    mean_absolute_percentage_error: float | None
    bias_percentage: float | None
    within_percentage: float | None = Field(description="80% of the back-tested periods were within ± this %.")
    coverage_80: float | None
    coverage_95: float | None
    baseline_mean_absolute_percentage_error: float | None = Field(
        description="The same back-test of the nominal weighted pipeline (booked + amount x stage probability)."
    )
    sentence: str
    points: list[dict[str, Any]] = Field(default_factory=list)


class ForecastRead(ReadSchema):
    id: UUID
    kind: str
    level: str
    user_id: UUID | None
    team_id: UUID | None
    period: str = Field(validation_alias=AliasChoices("forecast_period", "period"))
    period_start: date = Field(validation_alias=AliasChoices("period_start_date", "periodStart", "period_start"))
    period_end: date = Field(validation_alias=AliasChoices("period_end_date", "periodEnd", "period_end"))
    forecast_date: date
    currency: str
    forecasted_revenue: Decimal
    low_80: Decimal | None = Field(validation_alias=AliasChoices("confidence_interval_low", "low80", "low_80"))
    high_80: Decimal | None = Field(validation_alias=AliasChoices("confidence_interval_high", "high80", "high_80"))
    low_95: Decimal | None = Field(validation_alias=AliasChoices("confidence_interval_low_95", "low95", "low_95"))
    high_95: Decimal | None = Field(validation_alias=AliasChoices("confidence_interval_high_95", "high95", "high_95"))
    booked_revenue: Decimal
    pipeline_revenue: Decimal
    run_rate_revenue: Decimal
    commit_amount: Decimal
    best_case_amount: Decimal
    pipeline_amount: Decimal
    actual_revenue: Decimal | None
    accuracy_percentage: Decimal | None
    model_id: UUID | None
    backtest: dict[str, Any] | None
    details: dict[str, Any]
    generated_at: datetime


class BreakdownRead(ReadSchema):
    deal_id: UUID | None
    deal_name: str | None = None
    owner_id: UUID | None = None
    stage_id: UUID | None
    stage_name: str | None = None
    amount: Decimal | None
    expected_close_date: date | None
    forecasted_amount: Decimal | None
    confidence_percentage: Decimal | None
    category: str
    category_source: str
    age_days: int | None


class ForecastItem(ForecastRead):
    """A forecast with its quota beside it."""

    attainment: QuotaAttainment


class ForecastDetail(ForecastItem):
    """A forecast with each deal's part in it (the latest forecast of a period keeps them) and its back-test:
    what the method said at the start of each past period against what happened."""

    breakdown: list[BreakdownRead]
    backtest_history: list[ForecastRead]
