"""Lead scores, points rules and scoring settings as the API and the pages exchange them (camelCase)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import Field, field_validator

from core.schemas import ReadSchema, Schema

Operator = Literal["equals", "not_equals", "in", "contains", "gt", "gte", "lt", "lte", "is_set", "is_not_set"]
Points = Field(ge=-100, le=100, description="Points added (or taken, when negative) when the rule matches.")


class RuleCreate(Schema):
    """Points for leads whose `field` matches: "Lead source equals Webinar: +15"."""

    field: str = Field(min_length=1, max_length=100, description="A lead feature (docs/scoring.md) or cf_<name>.")
    operator: Operator = "equals"
    value: Any = Field(None, description="Compared value; a list for `in`; none for is_set / is_not_set.")
    points: int = Points
    label: str | None = Field(None, max_length=200)
    is_active: bool = True

    @field_validator("points")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("must not be 0: a rule adds or takes points")
        return value


class RuleUpdate(Schema):
    field: str | None = Field(None, min_length=1, max_length=100)
    operator: Operator | None = None
    value: Any = None
    points: int | None = Field(None, ge=-100, le=100)
    label: str | None = Field(None, max_length=200)
    is_active: bool | None = None
    version: int | None = Field(None, description="Current version for optimistic locking (409 when stale).")


class RuleRead(ReadSchema):
    id: UUID
    field: str
    operator: str
    value: Any
    points: int
    label: str | None
    is_active: bool
    created_by: UUID | None
    created_at: datetime
    updated_at: datetime
    version: int


class SettingsUpdate(Schema):
    converted_stages: list[str] | None = Field(
        None, min_length=1, description="Lifecycle stages that count as converted (a won deal always does)."
    )
    idle_days: int | None = Field(None, ge=7, le=3650, description="An untouched lead counts as lost after this.")
    min_outcomes: int | None = Field(
        None, ge=20, le=1_000_000, description="Outcomes needed before a model may replace the rules."
    )
    min_conversions: int | None = Field(
        None, ge=5, le=1_000_000, description="Conversions needed before a model may be used."
    )
    rules_base: int | None = Field(None, ge=0, le=100, description="The rules score before any rule matches.")
    challenger_model_id: UUID | None = Field(None, description="A trained model scored against the active one.")
    challenger_share: Decimal | None = Field(None, ge=0, le=1, description="Share of leads the challenger scores.")
    retrain_every_days: int | None = Field(None, ge=1, le=365)
    version: int | None = None


class SettingsRead(ReadSchema):
    converted_stages: list[str]
    idle_days: int
    min_outcomes: int
    min_conversions: int
    rules_base: int
    challenger_model_id: UUID | None
    challenger_share: Decimal
    retrain_every_days: int
    rescored_through: datetime | None
    version: int


class Factor(Schema):
    feature: str
    text: str
    points: float


class LeadScoreRead(ReadSchema):
    id: UUID
    contact_id: UUID
    model_id: UUID
    score: int
    confidence: Decimal | None
    predicted_conversion_probability: Decimal | None
    predicted_revenue: Decimal | None
    factors: list[Factor]
    arm: str
    scored_at: datetime


class ContactScore(Schema):
    """A contact's current score with its reasons, the method that gave it, and its recent history."""

    contact_id: UUID
    score: int
    current: LeadScoreRead | None
    method: str = Field(description="'model' or 'rules'.")
    model_version: str | None
    algorithm: str | None
    history: list[LeadScoreRead]


class TrainRequest(Schema):
    """Train a model on the workspace's outcomes now (an async job; follow it at /jobs/{id})."""

    activate: Literal["if_better", "never"] = Field(
        "if_better", description="Activate the new model only if it beats the active one on the same validation."
    )
