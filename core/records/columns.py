"""Column groups that several CRM records share (address, tags, ownership, full-text search)."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Computed, ForeignKey, String
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR
from sqlalchemy.orm import Mapped, declared_attr, mapped_column


class OwnedMixin:
    """A record with an owner: the own/team/all record scope applies to it."""

    __owner_column__ = "owner_id"

    @declared_attr
    def owner_id(cls) -> Mapped[UUID]:
        return mapped_column(ForeignKey("users.id"), nullable=False)


class AddressMixin:
    address_street: Mapped[str | None] = mapped_column(String(255))
    address_city: Mapped[str | None] = mapped_column(String(100))
    address_state: Mapped[str | None] = mapped_column(String(100))
    address_postal_code: Mapped[str | None] = mapped_column(String(20))
    address_country: Mapped[str | None] = mapped_column(String(100))


class TagsMixin:
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(50)), nullable=False, default=list, server_default="{}")


def search_vector(expression: str) -> Mapped[str]:
    """A stored, generated `tsvector` (the 'simple' configuration: names in any language, no stemming)."""
    return mapped_column(TSVECTOR, Computed(f"to_tsvector('simple'::regconfig, {expression})", persisted=True))


def coalesced(*columns: str) -> str:
    return " || ' ' || ".join(f"coalesce({c}, '')" for c in columns)
