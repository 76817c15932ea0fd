"""Deals on the wire: create, full replace (PUT), partial update (PATCH), stage moves, bulk work and reads."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, Field, field_validator

from core.pipelines.schemas import Currency, PlainText, Probability
from core.schemas import ReadSchema, Schema


def _tags(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


Text = PlainText
Name = Annotated[Text, Field(min_length=1, max_length=255)]
Amount = Annotated[Decimal, Field(ge=0, max_digits=15, decimal_places=2, examples=["12500.00"])]
Tag = Annotated[Text, Field(min_length=1, max_length=50)]
Tags = Annotated[list[Tag], Field(max_length=50), AfterValidator(_tags)]
LeadSource = Annotated[Text, Field(max_length=100)]
LongText = Annotated[Text, Field(max_length=10_000)]
LostReason = Annotated[Text, Field(min_length=1, max_length=255)]
CustomFields = Annotated[
    dict[str, Any], Field(max_length=200, description="Custom field values by field name (see /custom-fields).")
]

# Fields a PATCH may not set to null (they always have a value).
NOT_NULL = ("name", "currency", "tags", "probability", "owner_id", "custom_fields", "stage_id", "pipeline_id")


class DealCreate(Schema):
    name: Name
    amount: Amount | None = None
    currency: Currency | None = Field(None, description="Default: the pipeline's currency.")
    pipeline_id: UUID | None = Field(None, description="Default: the tenant's default pipeline.")
    stage_id: UUID | None = Field(None, description="Default: the pipeline's first open stage.")
    account_id: UUID | None = None
    contact_id: UUID | None = None
    owner_id: UUID | None = Field(None, description="Default: the caller.")
    expected_close_date: date | None = None
    lead_source: LeadSource | None = None
    next_step: LongText | None = None
    description: LongText | None = None
    tags: Tags = Field(default_factory=list)
    probability: Probability | None = Field(None, description="Default: the stage's probability.")
    custom_fields: CustomFields = Field(default_factory=dict)
    lost_reason: LostReason | None = Field(None, description="Required when the stage is a lost stage.")
    actual_close_date: date | None = Field(
        None, description="For a deal created in a closed stage; default: today in the tenant's time zone."
    )


class _DealChanges(Schema):
    """Every editable field, all optional: what a PATCH (or a bulk update) may send."""

    name: Name | None = None
    amount: Amount | None = None
    currency: Currency | None = None
    pipeline_id: UUID | None = Field(
        None, description="Moving to another pipeline: its first open stage unless stageId."
    )
    stage_id: UUID | None = Field(None, description="A stage change (history, events), as POST /deals/{id}/stage.")
    lost_reason: LostReason | None = Field(None, description="With a move to a lost stage.")
    account_id: UUID | None = None
    contact_id: UUID | None = None
    owner_id: UUID | None = None
    expected_close_date: date | None = None
    lead_source: LeadSource | None = None
    next_step: LongText | None = None
    description: LongText | None = None
    tags: Tags | None = None
    probability: Probability | None = None
    custom_fields: CustomFields | None = Field(None, description="Only the custom fields given change.")

    @field_validator(*NOT_NULL, mode="after")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be null: leave the field out to keep its value")
        return value


class DealBulkChanges(_DealChanges):
    pass


class DealPatch(_DealChanges):
    version: int | None = Field(None, description="Current version for optimistic locking (409 when stale).")


class DealReplace(Schema):
    """PUT: every editable field; omitted ones are cleared or reset to their default (currency: the pipeline's,
    probability: the stage's, custom fields: none). The owner, pipeline and stage stay unless given."""

    name: Name
    amount: Amount | None = None
    currency: Currency | None = None
    pipeline_id: UUID | None = None
    stage_id: UUID | None = None
    lost_reason: LostReason | None = None
    account_id: UUID | None = None
    contact_id: UUID | None = None
    owner_id: UUID | None = None
    expected_close_date: date | None = None
    lead_source: LeadSource | None = None
    next_step: LongText | None = None
    description: LongText | None = None
    tags: Tags = Field(default_factory=list)
    probability: Probability | None = None
    custom_fields: CustomFields = Field(default_factory=dict)
    version: int | None = Field(None, description="Current version for optimistic locking (409 when stale).")


class StageMove(Schema):
    stage_id: UUID
    version: int | None = Field(None, description="Current version for optimistic locking (409 when stale).")
    lost_reason: LostReason | None = Field(None, description="Required when the stage is a lost stage.")
    actual_close_date: date | None = Field(None, description="For a closed stage; default: today (tenant's zone).")


class MarkWon(Schema):
    version: int | None = None
    actual_close_date: date | None = None


class MarkLost(Schema):
    reason: LostReason
    version: int | None = None
    actual_close_date: date | None = None


class BulkCreate(Schema):
    deals: list[dict[str, Any]] = Field(
        min_length=1, max_length=100, description="Up to 100 deals, each as for POST /deals; each succeeds alone."
    )


class BulkUpdate(Schema):
    ids: list[UUID] = Field(min_length=1, max_length=100)
    updates: DealBulkChanges


class BulkDelete(Schema):
    ids: list[UUID] = Field(min_length=1, max_length=100)


class BulkItemError(ReadSchema):
    code: str
    message: str
    details: Any = None


class BulkItemResult(ReadSchema):
    index: int
    success: bool
    id: UUID | None = None
    error: BulkItemError | None = None


class BulkResult(ReadSchema):
    created: int | None = None
    updated: int | None = None
    deleted: int | None = None
    failed: int
    results: list[BulkItemResult]


class DealRead(ReadSchema):
    id: UUID
    name: str
    amount: Decimal | None
    currency: str
    probability: int
    weighted_amount: Decimal | None = Field(description="amount x probability / 100")
    pipeline_id: UUID
    pipeline_name: str
    stage_id: UUID
    stage_name: str
    stage_entered_at: datetime
    days_in_stage: int
    is_rotting: bool = Field(description="Open, and longer in its stage than the stage's rottingDays.")
    is_closed: bool
    is_won: bool | None
    lost_reason: str | None
    expected_close_date: date | None
    actual_close_date: date | None
    owner_id: UUID
    account_id: UUID | None
    contact_id: UUID | None
    lead_source: str | None
    next_step: str | None
    description: str | None
    tags: list[str]
    custom_fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    version: int


class StageHistoryRead(ReadSchema):
    id: UUID
    from_stage_id: UUID | None
    from_stage_name: str | None
    to_stage_id: UUID
    to_stage_name: str
    changed_at: datetime
    changed_by: UUID | None
    changed_by_name: str | None
    amount: Decimal | None
    probability: int | None
    seconds_in_stage: int = Field(description="Time spent in toStage: until the next change, or until now.")
    days_in_stage: int
    is_current: bool
