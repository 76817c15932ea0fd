"""Sentiment as the API and the pages exchange it (camelCase)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from core.schemas import ReadSchema, Schema

Label = Literal["negative", "neutral", "positive"]
EntityType = Literal["notes", "activities"]


class CorrectionCreate(Schema):
    """The label a person gives a note's or activity's text (one click on the timeline)."""

    label: Label = Field(description="negative, neutral or positive")


class SentimentRead(ReadSchema):
    """A note's or activity's sentiment. `label` is what the tenant sees: the person's correction when there is
    one (`correctedLabel`), else the model's (`modelLabel`). `score`: P(positive) - P(negative), -1..1;
    `confidence`: the model label's probability; `sentence`: the sentence that carried it; `model`: what decided
    ("out_of_box-<version>" or the tenant's adapted model). `pending` when the worker has not read the text yet."""

    entity_type: str
    entity_id: UUID
    label: str | None
    model_label: str | None = None
    corrected_label: str | None = None
    score: float | None = None
    confidence: float | None = None
    probabilities: dict[str, float] = Field(default_factory=dict)
    sentence: str | None = None
    model: str | None = None
    computed_at: datetime | None = None
    pending: bool = False
    reason: str | None = None


class CorrectionRead(ReadSchema):
    sentiment: SentimentRead
    example_id: UUID
    train_job_id: UUID | None


class MonthSentiment(ReadSchema):
    """One month of an account's customer text: counts per label (corrections count as corrected) and the mean
    score (-1..1) of what the model read (corrections count as -1, 0, +1)."""

    month: date
    negative: int
    neutral: int
    positive: int
    total: int
    mean_score: float | None


class AccountTrend(ReadSchema):
    account_id: UUID
    months: list[MonthSentiment]
    summary: str


class ModelStatus(ReadSchema):
    """The tenant's sentiment model: what decides now (`active`: "out_of_box" or the adapted model's version),
    its examples per class, cross-validated accuracy and macro-F1 on the tenant's own corrections beside the
    out-of-the-box model's on the same corrections, and when it was trained."""

    active: str
    adapted_version: str | None = None
    adapted_is_active: bool = False
    examples: int
    per_class: dict[str, int]
    accuracy: float | None = None
    macro_f1: float | None = None
    out_of_box_accuracy: float | None = None
    out_of_box_macro_f1: float | None = None
    folds: int | None = None
    trained_at: datetime | None = None
    message: str
    benchmark: dict[str, object] = Field(default_factory=dict)
