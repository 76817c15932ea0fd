"""Anomalies and insight settings as the API and the pages read them (camelCase)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from core.schemas import ReadSchema, Schema

Code = Literal[
    "amount_outlier",
    "close_date_pushed",
    "stage_backwards",
    "stage_skipped",
    "late_discount",
    "rep_activity_drop",
    "rep_win_rate_drop",
    "account_engagement_drop",
]


class AnomalyRead(ReadSchema):
    id: UUID
    code: Code = Field(description="What kind of anomaly (see docs: amount_outlier, close_date_pushed, ...).")
    entity_type: Literal["deals", "accounts", "users"]
    entity_id: UUID
    entity_name: str | None = Field(None, description="The deal's, account's or rep's name.")
    severity: Literal["low", "medium", "high"]
    score: Decimal | None = Field(None, description="How far from the norm (a robust z-score, -log10 p, a count).")
    reason: str = Field(description="One line a rep understands, with the figures.")
    details: dict[str, Any] = Field(description="The figures behind the reason.")
    model: str
    model_version: str
    status: Literal["open", "dismissed", "resolved"]
    detected_at: datetime = Field(description="When it was first found.")
    computed_at: datetime = Field(description="As of when the latest pass found it.")
    dismissed_by: UUID | None = None
    dismissed_at: datetime | None = None


class InsightSettingsRead(ReadSchema):
    amount_z: Decimal
    amount_min_group: int
    close_push_min: int
    skip_min_stages: int
    late_cut_pct: int
    late_stages: int
    window_days: int
    baseline_days: int
    rep_activity_drop_pct: int
    rep_min_baseline: int
    rep_win_p: Decimal
    rep_min_closed: int
    win_window_days: int
    engagement_drop_pct: int
    engagement_min_baseline: int
    lookback_days: int
    disabled_codes: list[str]
    version: int


class InsightSettingsUpdate(Schema):
    amount_z: Decimal | None = Field(None, ge=2, le=20, description="Robust z-score from which an amount is unusual.")
    amount_min_group: int | None = Field(None, ge=3, le=1000, description="Deals a segment needs to have a norm.")
    close_push_min: int | None = Field(None, ge=1, le=20, description="Close-date pushes that make an anomaly.")
    skip_min_stages: int | None = Field(None, ge=1, le=20, description="Stages skipped in one move that make one.")
    late_cut_pct: int | None = Field(None, ge=5, le=95, description="Amount cut (%) late in the cycle.")
    late_stages: int | None = Field(None, ge=1, le=10, description="The pipeline's last N open stages are 'late'.")
    window_days: int | None = Field(None, ge=7, le=180, description="The recent window for activity drops.")
    baseline_days: int | None = Field(None, ge=30, le=730, description="The history it is compared with.")
    rep_activity_drop_pct: int | None = Field(None, ge=10, le=100)
    rep_min_baseline: int | None = Field(None, ge=1, le=100000)
    rep_win_p: Decimal | None = Field(None, gt=0, le=Decimal("0.2"))
    rep_min_closed: int | None = Field(None, ge=3, le=10000)
    win_window_days: int | None = Field(None, ge=30, le=365)
    engagement_drop_pct: int | None = Field(None, ge=10, le=100)
    engagement_min_baseline: int | None = Field(None, ge=1, le=100000)
    lookback_days: int | None = Field(None, ge=7, le=3650)
    disabled_codes: list[Code] | None = Field(None, description="Kinds of anomaly not looked for.")
    version: int | None = None
