"""Accounts (companies) on the wire, and the field types that accounts and contacts share.

Create and PUT take the whole record (fields not sent go back to their defaults; PUT keeps the owner when
`ownerId` is left out); PATCH changes only the fields sent. `domain` is derived (from the website, else the
email) and read-only. `customFields` holds the tenant's custom field values by field name.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, EmailStr, Field, StringConstraints, field_validator

from core.schemas import ReadSchema, Schema

MAX_TAGS = 20
MAX_TAG_LENGTH = 50
MAX_CUSTOM_FIELDS = 200


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


_NoNul = AfterValidator(_no_nul)

# Strings of at most N characters (whitespace-stripped; any script, emoji included; no NUL).
Str20 = Annotated[str, StringConstraints(max_length=20), _NoNul]
Str50 = Annotated[str, StringConstraints(max_length=50), _NoNul]
Str100 = Annotated[str, StringConstraints(max_length=100), _NoNul]
Str255 = Annotated[str, StringConstraints(max_length=255), _NoNul]
LongText = Annotated[str, StringConstraints(max_length=50_000), _NoNul]
Name100 = Annotated[str, StringConstraints(min_length=1, max_length=100), _NoNul]
Name255 = Annotated[str, StringConstraints(min_length=1, max_length=255), _NoNul]


def _tags(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))  # drop repeats, keep the order given


Tag = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TAG_LENGTH), _NoNul]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS), AfterValidator(_tags)]


def _email(value: str) -> str:
    return value.lower()


Email = Annotated[EmailStr, AfterValidator(_email)]


def _check_custom_values(value: Any, path: str = "customFields") -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{path} must not contain NUL characters")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_custom_values(key, path)
            _check_custom_values(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            _check_custom_values(item, path)


def _custom(values: dict[str, Any] | None) -> dict[str, Any] | None:
    if values is not None:
        if len(values) > MAX_CUSTOM_FIELDS:
            raise ValueError(f"at most {MAX_CUSTOM_FIELDS} custom fields")
        _check_custom_values(values)
    return values


CustomValues = Annotated[
    dict[str, Any] | None,
    AfterValidator(_custom),
    Field(description="Custom field values by field name; null clears one."),
]

_HOST = re.compile(r"^[^\s/:@?#]+\.[^\s/:@?#.]{2,}$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def domain_of(website: str | None = None, email: str | None = None) -> str | None:
    """The bare domain of a website (`https://www.Acme.com/about` -> `acme.com`), else of an email address."""
    if website:
        host = _SCHEME.sub("", website.strip()).split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
        host = host.rsplit("@", 1)[-1].split(":", 1)[0].strip(".").lower()
        if host.startswith("www."):
            host = host[4:]
        if _HOST.match(host):
            return host
    if email and "@" in email:
        host = email.rsplit("@", 1)[1].strip().strip(".").lower()
        return host or None
    return None


def _website(value: str | None) -> str | None:
    if value and domain_of(value) is None:
        raise ValueError("not a web address (e.g. https://acme.com)")
    return value


Website = Annotated[str, StringConstraints(max_length=255), _NoNul, AfterValidator(_website)]

Revenue = Annotated[Decimal, Field(ge=0, max_digits=15, decimal_places=2)]


class AddressFields(Schema):
    """The postal address columns that accounts and contacts share (records' AddressMixin)."""

    address_street: Str255 | None = None
    address_city: Str100 | None = None
    address_state: Str100 | None = None
    address_postal_code: Str20 | None = None
    address_country: Str100 | None = None


class _AccountFields(AddressFields):
    website: Website | None = None
    industry: Str100 | None = None
    company_size: Str50 | None = Field(None, description="e.g. 1-10, 11-50, 51-200, 201-500, 500+")
    annual_revenue: Revenue | None = None
    phone: Str50 | None = None
    email: Email | None = None
    description: LongText | None = None
    parent_id: UUID | None = Field(None, description="The parent account (hierarchies); no cycles.")
    custom_fields: CustomValues = None


class AccountCreate(_AccountFields):
    name: Name255
    owner_id: UUID | None = Field(None, description="Defaults to the caller; an active user you may assign to.")
    tags: Tags = Field(default_factory=list)
    is_active: bool = True


class AccountReplace(AccountCreate):
    """PUT: the whole record. Fields left out return to their defaults; the owner stays when not sent."""

    version: int | None = Field(None, description="Current version for optimistic locking.")


NOT_NULL = ("name", "owner_id", "tags", "is_active")


class AccountUpdate(_AccountFields):
    """PATCH: only the fields sent change; null clears an optional field."""

    name: Name255 | None = None
    owner_id: UUID | None = None
    tags: Tags | None = None
    is_active: bool | None = None
    version: int | None = Field(None, description="Current version for optimistic locking.")

    @field_validator(*NOT_NULL)
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null")
        return value


class AccountRead(ReadSchema):
    id: UUID
    name: str
    domain: str | None
    website: str | None
    industry: str | None
    company_size: str | None
    annual_revenue: Decimal | None
    phone: str | None
    email: str | None
    address_street: str | None
    address_city: str | None
    address_state: str | None
    address_postal_code: str | None
    address_country: str | None
    description: str | None
    tags: list[str]
    is_active: bool
    owner_id: UUID
    parent_id: UUID | None
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    version: int


MAX_BULK = 100


class AccountBulkCreate(Schema):
    accounts: list[Any] = Field(
        min_length=1,
        max_length=MAX_BULK,
        description=f"Up to {MAX_BULK} accounts, each as for POST /accounts; each is validated and created on "
        "its own, so a bad one never stops the others.",
    )


class AccountBulkUpdate(Schema):
    ids: list[UUID] = Field(min_length=1, max_length=MAX_BULK)
    updates: AccountUpdate

    @field_validator("updates")
    @classmethod
    def _no_version(cls, value: AccountUpdate) -> AccountUpdate:
        if value.version is not None:
            raise ValueError("version applies to one record; use PATCH /accounts/{id}")
        return value


class AccountBulkDelete(Schema):
    ids: list[UUID] = Field(min_length=1, max_length=MAX_BULK)
