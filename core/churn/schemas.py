"""Churn risk as the API and the pages read it (camelCase)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from core.schemas import ReadSchema


class ChurnReason(ReadSchema):
    """One factor behind a risk, in plain words: "No activity in the last 90 days (12 in the 90 before): +18"."""

    factor: str = Field(description="The feature's name (see docs: engagement, renewal, issues, ...).")
    text: str = Field(description="What it says, in a rep's words, with the figure behind it.")
    points: float = Field(description="Risk points (of 100) this factor adds; negative when it lowers the risk.")


class ChurnMeasure(ReadSchema):
    """How well the method that gave the risk ranks accounts, measured on outcomes it did not learn from."""

    roc_auc: float | None = Field(None, description="The method's AUC on the latest (hold-out) outcomes.")
    rules_roc_auc: float | None = Field(None, description="The rules score's AUC on the same outcomes.")
    validation_rows: int | None = Field(None, description="Account snapshots in the hold-out.")
    outcome_days: int | None = Field(None, description="Churned = no won deal and no activity for this many days.")


class ChurnRiskRead(ReadSchema):
    account_id: UUID
    account_name: str
    owner_id: UUID | None
    probability: Decimal = Field(description="Probability that the account stops buying (see outcomeDays).")
    score: int = Field(description="The probability as 0-100.")
    level: Literal["low", "medium", "high"] = Field(description="high from 60, medium from 30.")
    method: Literal["model", "rules"] = Field(
        description="'model': trained on this workspace's own churned accounts; 'rules': the transparent rules "
        "score, used until a trained model beats it."
    )
    model_version: str
    reasons: list[ChurnReason]
    features: dict[str, Any] = Field(description="The figures the reasons come from, as of computedAt.")
    measured: ChurnMeasure
    computed_at: datetime
