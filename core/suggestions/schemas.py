"""Field suggestions on the wire (camelCase), and what enrichment hands the service to keep."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from core.schemas import ReadSchema, Schema

EntityType = Literal["contacts", "accounts"]


@dataclass(frozen=True)
class NewSuggestion:
    """A proposal for one field of one record, as enrichment computed it (the service stores it)."""

    entity_type: str
    entity_id: UUID
    field: str
    current_value: Any
    suggested_value: Any
    suggested_label: str
    confidence: float
    reason: str
    source: str
    model_version: str | None = None


class SuggestionRead(ReadSchema):
    id: UUID
    entity_type: str
    entity_id: UUID
    field: str = Field(
        description="The field it would set: account_id, company, department, seniority, phone, mobile, "
        "address_country, address_state (contacts); name, industry, phone, address_country, address_state "
        "(accounts); duplicate_of (both: accepting merges this record into the other one)."
    )
    field_label: str = Field("", description="The field in words.")
    current_value: Any = Field(description="The field's value when the suggestion was made.")
    suggested_value: Any
    suggested_label: str = Field(description="The suggested value in words (an account's name, a country).")
    confidence: Decimal = Field(description="0-1: how sure the rule or model is.")
    reason: str = Field(description="Why, in one line.")
    source: str = Field(description="The rule or model that made it (rule:<name>, model:<name>, provider:<name>).")
    model_version: str | None
    status: str = Field(description="open, accepted or rejected.")
    stale: bool = Field(False, description="The field changed since: the suggestion can no longer be accepted.")
    computed_at: datetime
    decided_at: datetime | None
    decided_by: UUID | None


class AcceptRequest(Schema):
    version: int | None = Field(
        None, description="The record's version you saw (optimistic locking); 409 when it has changed since."
    )


class Decision(ReadSchema):
    """What accepting or rejecting did."""

    suggestion: SuggestionRead
    record: dict[str, Any] | None = Field(None, description="The record as it is after the change (accept).")
