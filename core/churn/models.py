"""What churn risk keeps in PostgreSQL: each customer account's current risk of churning (`churn_risks`), with
the probability, a 0-100 score, the reasons (signed, in plain words), the figures they came from, and which
method gave it (the tenant's trained model or the transparent rules score; `model_id` points at its
`ml_models` row).

Risks are derived data the worker rewrites at any time (ai/insights/churn.py), so they are not audited. One row
per account: the current risk; a refresh overwrites it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, Numeric, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.modeling import IdMixin, TenantMixin

METHODS = ("model", "rules")


class ChurnRisk(IdMixin, TenantMixin, Base):
    """A customer account's churn risk: `probability` of stopping buying within the outcome window, `score` its
    0-100 rounding, `reasons` [{factor, text, points}] strongest first (points: risk points the factor adds,
    negative when it lowers the risk), `features` the figures as of `computed_at`."""

    __tablename__ = "churn_risks"
    __table_args__ = (
        Index("uq_churn_risks_tenant_account", "tenant_id", "account_id", unique=True),
        Index("ix_churn_risks_tenant_score", "tenant_id", "score"),
        Index("ix_churn_risks_model", "model_id"),
        CheckConstraint("probability BETWEEN 0 AND 1", name="ck_churn_risks_probability"),
        CheckConstraint("score BETWEEN 0 AND 100", name="ck_churn_risks_score"),
        CheckConstraint(f"method IN {METHODS}", name="ck_churn_risks_method"),
        CheckConstraint("length(btrim(model_version)) > 0", name="ck_churn_risks_version"),
    )

    account_id: Mapped[UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False)
    model_id: Mapped[UUID] = mapped_column(ForeignKey("ml_models.id", ondelete="CASCADE"), nullable=False)
    model_version: Mapped[str] = mapped_column(String(50), nullable=False)
    method: Mapped[str] = mapped_column(String(10), nullable=False)
    probability: Mapped[Decimal] = mapped_column(Numeric(5, 4), nullable=False)
    score: Mapped[int] = mapped_column(Integer, nullable=False)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, default=list, server_default="[]")
    features: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict, server_default="{}")
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
