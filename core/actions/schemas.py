"""Next best actions and their taken/ignored rates as the API and the pages exchange them (camelCase)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from core.schemas import ReadSchema

Kind = Literal["follow_up_rotting", "schedule_next_step", "reengage_champion", "multi_thread", "call_hot_lead"]
EntityType = Literal["deals", "contacts"]

KIND_LABELS: dict[str, str] = {
    "follow_up_rotting": "Follow up on a rotting deal",
    "schedule_next_step": "Schedule the missing next step",
    "reengage_champion": "Re-engage a champion gone quiet",
    "multi_thread": "Multi-thread a single-contact account",
    "call_hot_lead": "Call a hot lead now",
}


class RecordChange(ReadSchema):
    """The record one click creates: a task (`type` "task") with this title, description, due date (days from the
    click) and priority; an email to draft is a task too (`type` "email": the draft's subject and body in it)."""

    type: Literal["task", "email"]
    title: str
    description: str | None = None
    due_in_days: int = Field(ge=0, le=60)
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    subject: str | None = Field(None, description="The drafted email's subject (type email).")
    body: str | None = Field(None, description="The drafted email's body (type email).")


class ActionRead(ReadSchema):
    id: UUID
    kind: Kind
    kind_label: str
    entity_type: EntityType
    entity_id: UUID
    deal_id: UUID | None
    contact_id: UUID | None
    account_id: UUID | None
    owner_id: UUID
    title: str
    reason: str = Field(description="One line a rep understands, with the figures behind the expected value.")
    expected_value: Decimal = Field(description="Amount x the change in win probability the action brings.")
    amount: Decimal | None
    currency: str
    win_probability: Decimal = Field(description="The deal's (or lead's) probability of winning now.")
    uplift: Decimal = Field(description="The change in that probability the action brings (measured history).")
    change: RecordChange
    evidence: dict[str, Any]
    model_version: str
    computed_at: datetime


class DecisionRead(ReadSchema):
    id: UUID
    action_id: UUID
    kind: Kind
    entity_type: EntityType
    entity_id: UUID
    decision: Literal["taken", "ignored"]
    expected_value: Decimal
    record_type: str | None = Field(None, description="What taking it created ('tasks').")
    record_id: UUID | None
    decided_by: UUID | None
    created_at: datetime


class KindStats(ReadSchema):
    kind: Kind
    kind_label: str
    taken: int
    ignored: int
    open: int
    taken_rate: float | None = Field(description="Taken / (taken + ignored); null before any decision.")
    ignored_rate: float | None
    with_action_rate: float | None = Field(
        None, description="Win (or conversion) rate of past deals (leads) in the situation where it was done."
    )
    without_action_rate: float | None = Field(None, description="The same where it was not done.")
    history_size: int | None = Field(None, description="Past deals (leads) in the situation the rates come from.")
    lift: float | None = Field(None, description="Relative lift used to value the action (shrunk, floored at 0).")
    lift_source: str | None = Field(None, description="'measured' (history decided) or 'default' (mostly the prior).")


class ActionStats(ReadSchema):
    since: datetime
    kinds: list[KindStats]
    taken: int
    ignored: int
    open: int
    taken_rate: float | None
    model_version: str | None = Field(None, description="The measurement that values the actions now.")
