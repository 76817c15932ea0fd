"""Accounts (companies) on the wire, and the field types that accounts and contacts share.

Create and PUT take the whole record (fields not sent go back to their defaults; PUT keeps the owner when
`ownerId` is left out); PATCH changes only the fields sent. `domain` is derived (from the website, else the
email) and read-only. `customFields` holds the tenant's custom field values by field name.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any
from uuid import UUID

import email_validator
from email_validator.rfc_constants import DOT_ATOM_TEXT, EMAIL_MAX_LENGTH, LOCAL_PART_MAX_LENGTH
from pydantic import AfterValidator, Field, StringConstraints, WithJsonSchema, field_validator
from pydantic.networks import validate_email

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


@lru_cache(maxsize=4096)
def _checked_domain(domain: str) -> tuple[str, str] | None:
    """The domain as email-validator normalises it (and in IDNA ASCII), or None when it is no email domain."""
    try:
        checked = email_validator.validate_email(f"postmaster@{domain}", check_deliverability=False)
    except email_validator.EmailNotValidError:
        return None
    return checked.domain, checked.ascii_domain


def _fits(*addresses: str) -> bool:
    return all(len(address.encode()) <= EMAIL_MAX_LENGTH for address in addresses)


def _email(value: str) -> str:
    """`EmailStr`'s normalisation, lower-cased. Its domain check is 80% of the cost and depends on the domain
    alone, so an address with a plain dot-atom local part (which email-validator keeps as it is) takes the
    domain checked once per domain: an import of 100,000 rows pays for each domain once, not once per row.
    Anything else (display names, quoted or non-ASCII local parts, invalid input) goes through `EmailStr`'s
    own validation, errors included. Tests hold the two paths to the same answers."""
    local, at, domain = value.rpartition("@")
    if at and len(local) <= LOCAL_PART_MAX_LENGTH and DOT_ATOM_TEXT.match(local):
        checked = _checked_domain(domain)
        if checked is not None and _fits(value, normalized := f"{local}@{checked[0]}", f"{local}@{checked[1]}"):
            return normalized.lower()
    return validate_email(value)[1].lower()


Email = Annotated[str, AfterValidator(_email), WithJsonSchema({"type": "string", "format": "email"})]


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
