"""What sentiment keeps in PostgreSQL: the label of each note and activity (`text_sentiments`, derived data the
worker rewrites at any time, so not audited) and the tenant's corrections (`sentiment_examples`: people's work,
audited, each the labelled example its classifier learns from).

A correction also marks the corrected record (`corrected_label`), so it shows at once and survives rescoring
until the text itself changes.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Numeric, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.modeling import IdMixin, TenantMixin, TimestampMixin, VersionMixin

LABELS = ("negative", "neutral", "positive")
ENTITY_TYPES = ("notes", "activities")


class TextSentiment(IdMixin, TenantMixin, Base):
    """The sentiment of one note or activity: `label`, `score` (signed polarity P(positive) - P(negative),
    -1..1), `confidence` (the label's probability), the sentence that carried it, what decided
    (`model_version`: "out_of_box-<v>" or a tenant model's, then `model_id`), the hash of the text it read and
    the record's `updated_at` then (`source_updated_at`, the watermark of the worker's next pass)."""

    __tablename__ = "text_sentiments"
    __table_args__ = (
        Index("uq_text_sentiments_entity", "tenant_id", "entity_type", "entity_id", unique=True),
        Index("ix_text_sentiments_tenant_source", "tenant_id", "entity_type", "source_updated_at"),
        Index("ix_text_sentiments_model", "model_id"),
        CheckConstraint(f"entity_type IN {ENTITY_TYPES}", name="ck_text_sentiments_entity_type"),
        CheckConstraint(f"label IN {LABELS}", name="ck_text_sentiments_label"),
        CheckConstraint(
            f"corrected_label IS NULL OR corrected_label IN {LABELS}", name="ck_text_sentiments_corrected_label"
        ),
        CheckConstraint("score BETWEEN -1 AND 1", name="ck_text_sentiments_score"),
        CheckConstraint("confidence BETWEEN 0 AND 1", name="ck_text_sentiments_confidence"),
        CheckConstraint("length(content_hash) = 64", name="ck_text_sentiments_hash"),
    )

    entity_type: Mapped[str] = mapped_column(String(20), nullable=False)
    entity_id: Mapped[UUID] = mapped_column(nullable=False)
    label: Mapped[str] = mapped_column(String(10), nullable=False)
    score: Mapped[Decimal] = mapped_column(Numeric(5, 4), nullable=False)
    confidence: Mapped[Decimal] = mapped_column(Numeric(5, 4), nullable=False)
    probabilities: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict, server_default="{}")
    sentence: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    model_version: Mapped[str] = mapped_column(String(100), nullable=False)
    model_id: Mapped[UUID | None] = mapped_column(ForeignKey("ml_models.id", ondelete="SET NULL"))
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    corrected_label: Mapped[str | None] = mapped_column(String(10))
    example_id: Mapped[UUID | None] = mapped_column(ForeignKey("sentiment_examples.id", ondelete="SET NULL"))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    source_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class SentimentExample(IdMixin, TenantMixin, TimestampMixin, VersionMixin, Base):
    """A labelled text of the tenant: a one-click correction on the timeline or through the API (the record
    it came from in `entity_type`/`entity_id`, kept when the record later changes or goes). One per distinct
    text (`content_hash`): labelling the same text again changes its label."""

    __tablename__ = "sentiment_examples"
    __table_args__ = (
        Index("uq_sentiment_examples_text", "tenant_id", "content_hash", unique=True),
        Index("ix_sentiment_examples_tenant_label", "tenant_id", "label"),
        CheckConstraint(f"label IN {LABELS}", name="ck_sentiment_examples_label"),
        CheckConstraint(
            f"entity_type IS NULL OR entity_type IN {ENTITY_TYPES}", name="ck_sentiment_examples_entity_type"
        ),
        CheckConstraint("length(btrim(text)) > 0", name="ck_sentiment_examples_text"),
        CheckConstraint("length(content_hash) = 64", name="ck_sentiment_examples_hash"),
    )

    text: Mapped[str] = mapped_column(Text, nullable=False)
    label: Mapped[str] = mapped_column(String(10), nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    entity_type: Mapped[str | None] = mapped_column(String(20))
    entity_id: Mapped[UUID | None] = mapped_column()
    created_by: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
