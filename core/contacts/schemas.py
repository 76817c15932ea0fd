"""Contacts (the leads) on the wire: the seed's contacts columns in camelCase, plus custom fields.

Create and PUT take the whole record (fields not sent return to their defaults; PUT keeps the owner when
`ownerId` is left out); PATCH changes only the fields sent. `email` is validated and lower-cased; phones are
kept as given. `lastContactedAt` is read-only (activities set it).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args
from uuid import UUID

from pydantic import Field, field_validator

from core.accounts.schemas import (
    AccountRead,
    AddressFields,
    CustomValues,
    Email,
    LongText,
    Name100,
    Name255,
    Revenue,
    Str50,
    Str100,
    Str255,
    Tags,
)
from core.contacts.models import LEAD_STATUSES, LIFECYCLE_STAGES
from core.deals.schemas import DealRead
from core.pipelines.schemas import Currency
from core.schemas import ReadSchema, Schema

LeadStatus = Literal["new", "contacted", "qualified", "unqualified"]
LifecycleStage = Literal["subscriber", "lead", "mql", "sql", "opportunity", "customer", "evangelist", "other"]
assert set(get_args(LeadStatus)) == set(LEAD_STATUSES) and set(get_args(LifecycleStage)) == set(LIFECYCLE_STAGES)

LeadScore = Annotated[int, Field(ge=0, le=100, description="0-100")]


class _ContactFields(AddressFields):
    email: Email | None = None
    phone: Str50 | None = None
    mobile: Str50 | None = None
    title: Str100 | None = None
    department: Str100 | None = None
    company: Str255 | None = Field(None, description="The lead's company as given, before an account exists.")
    lead_source: Str100 | None = None
    social_linkedin: Str255 | None = None
    social_twitter: Str255 | None = None
    social_facebook: Str255 | None = None
    notes: LongText | None = None
    account_id: UUID | None = Field(None, description="The contact's account (one you can see).")
    custom_fields: CustomValues = None


class ContactCreate(_ContactFields):
    first_name: Name100
    last_name: Name100
    lead_status: LeadStatus | None = "new"
    lifecycle_stage: LifecycleStage | None = "lead"
    lead_score: LeadScore = 0
    tags: Tags = Field(default_factory=list)
    is_active: bool = True
    owner_id: UUID | None = Field(None, description="Defaults to the caller; an active user you may assign to.")


class ContactReplace(ContactCreate):
    """PUT: the whole record. Fields left out return to their defaults; the owner stays when not sent."""

    version: int | None = Field(None, description="Current version for optimistic locking.")


NOT_NULL = ("first_name", "last_name", "lead_score", "tags", "is_active", "owner_id")


class ContactUpdate(_ContactFields):
    """PATCH: only the fields sent change; null clears an optional field."""

    first_name: Name100 | None = None
    last_name: Name100 | None = None
    lead_status: LeadStatus | None = None
    lifecycle_stage: LifecycleStage | None = None
    lead_score: LeadScore | None = None
    tags: Tags | None = None
    is_active: bool | None = None
    owner_id: UUID | None = None
    version: int | None = Field(None, description="Current version for optimistic locking.")

    @field_validator(*NOT_NULL)
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null")
        return value


class ContactRead(ReadSchema):
    id: UUID
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    mobile: str | None
    title: str | None
    department: str | None
    company: str | None
    lead_source: str | None
    lead_status: str | None
    lifecycle_stage: str | None
    lead_score: int
    tags: list[str]
    address_street: str | None
    address_city: str | None
    address_state: str | None
    address_postal_code: str | None
    address_country: str | None
    social_linkedin: str | None
    social_twitter: str | None
    social_facebook: str | None
    notes: str | None
    is_active: bool
    owner_id: UUID
    account_id: UUID | None
    last_contacted_at: datetime | None
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    version: int


# Bulk ----------------------------------------------------------------------------------------------------

MAX_BULK = 100


class ContactBulkCreate(Schema):
    contacts: list[Any] = Field(
        min_length=1,
        max_length=MAX_BULK,
        description=f"Up to {MAX_BULK} contacts, each as for POST /contacts; each is validated and created on "
        "its own, so a bad one never stops the others.",
    )


class ContactBulkUpdate(Schema):
    ids: list[UUID] = Field(min_length=1, max_length=MAX_BULK)
    updates: ContactUpdate

    @field_validator("updates")
    @classmethod
    def _no_version(cls, value: ContactUpdate) -> ContactUpdate:
        if value.version is not None:
            raise ValueError("version applies to one record; use PATCH /contacts/{id}")
        return value


class ContactBulkDelete(Schema):
    ids: list[UUID] = Field(min_length=1, max_length=MAX_BULK)


class BulkItem(ReadSchema):
    index: int
    success: bool
    id: UUID | None = None
    error: dict[str, Any] | None = None


class BulkCreated(ReadSchema):
    created: int
    failed: int
    results: list[BulkItem]


class BulkUpdated(ReadSchema):
    updated: int
    failed: int
    results: list[BulkItem]


class BulkDeleted(ReadSchema):
    deleted: int
    failed: int
    results: list[BulkItem]


# Convert -------------------------------------------------------------------------------------------------


class ContactConvert(Schema):
    """Turn a lead into a deal (and an account when it has none), in one transaction."""

    deal_name: Name255 | None = Field(None, description="Defaults to the account's or the contact's name.")
    amount: Revenue | None = None
    currency: Currency | None = Field(
        None, description="ISO 4217; defaults to the pipeline's currency."
    )
    pipeline_id: UUID | None = Field(None, description="Defaults to the tenant's default pipeline.")
    stage_id: UUID | None = Field(None, description="Defaults to the pipeline's first stage.")
    expected_close_date: date | None = None
    create_account: bool = Field(
        True, description="Create (or link, by email domain) an account when the contact has none."
    )
    version: int | None = Field(None, description="The contact's current version, for optimistic locking.")


class ConversionRead(ReadSchema):
    contact: ContactRead
    account: AccountRead | None
    account_created: bool
    deal: DealRead
