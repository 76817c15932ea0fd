from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.modeling import IdMixin, TenantMixin, TimestampMixin, VersionMixin

FIELD_TYPES = ("text", "number", "date", "boolean", "select", "multi_select")
FIELD_ENTITIES = ("contacts", "accounts", "deals")


class CustomField(IdMixin, TenantMixin, TimestampMixin, VersionMixin, Base):
    """A tenant-defined, typed field on contacts, accounts or deals (the seed's custom_fields)."""

    __tablename__ = "custom_fields"
    __table_args__ = (
        Index("uq_custom_fields_tenant_entity_name", "tenant_id", "entity_type", "field_name", unique=True),
        CheckConstraint(f"entity_type IN {FIELD_ENTITIES}", name="ck_custom_fields_entity_type"),
        CheckConstraint(f"field_type IN {FIELD_TYPES}", name="ck_custom_fields_field_type"),
        CheckConstraint("field_name ~ '^[a-z][a-z0-9_]{0,62}$'", name="ck_custom_fields_field_name"),
    )

    entity_type: Mapped[str] = mapped_column(String(20), nullable=False)
    field_name: Mapped[str] = mapped_column(String(63), nullable=False)
    field_label: Mapped[str] = mapped_column(String(100), nullable=False)
    field_type: Mapped[str] = mapped_column(String(20), nullable=False)
    field_options: Mapped[list[str] | None] = mapped_column(JSONB)
    is_required: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default="false")
    display_order: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    description: Mapped[str | None] = mapped_column(Text)


class CustomFieldValue(IdMixin, TenantMixin, TimestampMixin, Base):
    """One value of one custom field on one record, stored in the column of its type so that it filters and
    sorts as its type (the seed's custom_field_values, typed)."""

    __tablename__ = "custom_field_values"
    __table_args__ = (
        Index("uq_custom_field_values_entity_field", "tenant_id", "entity_id", "custom_field_id", unique=True),
        Index("ix_custom_field_values_field_text", "tenant_id", "custom_field_id", "value_text"),
        Index("ix_custom_field_values_field_number", "tenant_id", "custom_field_id", "value_number"),
        Index("ix_custom_field_values_field_date", "tenant_id", "custom_field_id", "value_date"),
        Index("ix_custom_field_values_multi", "value_multi", postgresql_using="gin"),
    )

    custom_field_id: Mapped[UUID] = mapped_column(ForeignKey("custom_fields.id", ondelete="CASCADE"), nullable=False)
    entity_type: Mapped[str] = mapped_column(String(20), nullable=False)
    entity_id: Mapped[UUID] = mapped_column(nullable=False)
    value_text: Mapped[str | None] = mapped_column(Text)
    value_number: Mapped[Decimal | None] = mapped_column(Numeric(20, 6))
    value_date: Mapped[date | None] = mapped_column(Date)
    value_bool: Mapped[bool | None] = mapped_column(Boolean)
    value_multi: Mapped[list[str] | None] = mapped_column(JSONB)
