"""What next best actions keep in PostgreSQL: the actions open now (`next_best_actions`, derived: the worker
rewrites them on every refresh) and the users' decisions on them (`next_action_decisions`, people's work: audited).

An action is one condition of one record (a deal rotting in its stage since a given day, a lead not contacted since
a given day ...), named by its `condition_key`. A decision is unique per condition key, so an action taken or
ignored does not come back for the same condition, while a new condition of the same record (the deal rots again in
its next stage) is a new action.
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
from core.modeling import IdMixin, TenantMixin, TimestampMixin
from core.records.columns import OwnedMixin

KINDS = ("follow_up_rotting", "schedule_next_step", "reengage_champion", "multi_thread", "call_hot_lead")
ENTITY_TYPES = ("deals", "contacts")
DECISIONS = ("taken", "ignored")
RECORD_TYPES = ("tasks",)


class NextBestAction(IdMixin, TenantMixin, OwnedMixin, Base):
    """One action open now for one deal or lead: what to do (`title`), why in one line with its figures (`reason`),
    its expected value (amount x change in win probability), and the record change one click makes (`change`:
    {"type": "task", "title", "description", "dueInDays", "priority"}). `owner_id` is the rep who should act (the
    record's owner): record scope applies to it as to the record."""

    __tablename__ = "next_best_actions"
    __table_args__ = (
        Index("uq_next_best_actions_condition", "tenant_id", "condition_key", unique=True),
        Index("ix_next_best_actions_owner_value", "tenant_id", "owner_id", "expected_value"),
        Index("ix_next_best_actions_deal", "tenant_id", "deal_id"),
        Index("ix_next_best_actions_contact", "tenant_id", "contact_id"),
        Index("ix_next_best_actions_account", "account_id"),  # checked when an account is deleted
        CheckConstraint(f"kind IN {KINDS}", name="ck_next_best_actions_kind"),
        CheckConstraint(
            "(entity_type = 'deals' AND deal_id IS NOT NULL)"
            " OR (entity_type = 'contacts' AND contact_id IS NOT NULL AND deal_id IS NULL)",
            name="ck_next_best_actions_entity",
        ),
        CheckConstraint("expected_value >= 0", name="ck_next_best_actions_value"),
        CheckConstraint("amount IS NULL OR amount >= 0", name="ck_next_best_actions_amount"),
        CheckConstraint("win_probability BETWEEN 0 AND 1", name="ck_next_best_actions_probability"),
        CheckConstraint("uplift BETWEEN 0 AND 1", name="ck_next_best_actions_uplift"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="ck_next_best_actions_currency"),
        CheckConstraint("jsonb_typeof(change) = 'object'", name="ck_next_best_actions_change"),
    )

    kind: Mapped[str] = mapped_column(String(30), nullable=False)
    entity_type: Mapped[str] = mapped_column(String(20), nullable=False)
    deal_id: Mapped[UUID | None] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    contact_id: Mapped[UUID | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    account_id: Mapped[UUID | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    condition_key: Mapped[str] = mapped_column(String(200), nullable=False)
    title: Mapped[str] = mapped_column(String(255), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    expected_value: Mapped[Decimal] = mapped_column(Numeric(15, 2), nullable=False)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="USD", server_default="USD")
    win_probability: Mapped[Decimal] = mapped_column(Numeric(5, 4), nullable=False)
    uplift: Mapped[Decimal] = mapped_column(Numeric(5, 4), nullable=False)
    change: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict, server_default="{}")
    model_id: Mapped[UUID | None] = mapped_column(ForeignKey("ml_models.id", ondelete="SET NULL"))
    model_version: Mapped[str] = mapped_column(String(50), nullable=False)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)

    @property
    def entity_id(self) -> UUID:
        found = self.deal_id if self.entity_type == "deals" else self.contact_id
        assert found is not None  # the entity check constraint
        return found


class NextActionDecision(IdMixin, TenantMixin, OwnedMixin, TimestampMixin, Base):
    """A user's choice on an action: taken (with the record it created) or ignored, by whom (`decided_by`) and when
    (`created_at`). `owner_id` is the record's owner at the time (whose actions the rates describe)."""

    __tablename__ = "next_action_decisions"
    __table_args__ = (
        Index("uq_next_action_decisions_condition", "tenant_id", "condition_key", unique=True),
        Index("ix_next_action_decisions_action", "tenant_id", "action_id"),
        Index("ix_next_action_decisions_created", "tenant_id", "created_at"),
        CheckConstraint(f"kind IN {KINDS}", name="ck_next_action_decisions_kind"),
        CheckConstraint(f"entity_type IN {ENTITY_TYPES}", name="ck_next_action_decisions_entity"),
        CheckConstraint(f"decision IN {DECISIONS}", name="ck_next_action_decisions_decision"),
        CheckConstraint("expected_value >= 0", name="ck_next_action_decisions_value"),
        CheckConstraint(
            "(decision = 'taken') = (record_id IS NOT NULL AND record_type IS NOT NULL)",
            name="ck_next_action_decisions_record",
        ),
        CheckConstraint("record_type IS NULL OR record_type IN ('tasks')", name="ck_next_action_decisions_type"),
    )

    action_id: Mapped[UUID] = mapped_column(nullable=False)
    kind: Mapped[str] = mapped_column(String(30), nullable=False)
    entity_type: Mapped[str] = mapped_column(String(20), nullable=False)
    entity_id: Mapped[UUID] = mapped_column(nullable=False)
    condition_key: Mapped[str] = mapped_column(String(200), nullable=False)
    decision: Mapped[str] = mapped_column(String(10), nullable=False)
    expected_value: Mapped[Decimal] = mapped_column(Numeric(15, 2), nullable=False)
    model_version: Mapped[str] = mapped_column(String(50), nullable=False)
    record_type: Mapped[str | None] = mapped_column(String(20))
    record_id: Mapped[UUID | None] = mapped_column()
    decided_by: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
