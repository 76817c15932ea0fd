"""Column conventions shared by every table: UUIDv7 keys, UTC timestamps, tenancy, soft delete, versions."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import DateTime, ForeignKey, Index, Integer, func, text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from core.ids import new_id


class IdMixin:
    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


class TenantMixin:
    """Tenant-owned: `tenant_id NOT NULL`, row-level security in the migration, indexes lead with it."""

    __tenant_owned__ = True

    @declared_attr
    def tenant_id(cls) -> Mapped[UUID]:
        return mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)


class SoftDeleteMixin:
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class VersionMixin:
    """Optimistic locking: SQLAlchemy adds `AND version = :old` to every UPDATE and raises on a stale row."""

    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")

    @declared_attr.directive
    def __mapper_args__(cls) -> dict:
        return {"version_id_col": cls.version}


def name_length_index(name: str, column: str) -> Index:
    """`(tenant_id, length(column), column)` over live rows: search's typo candidates, names of a given length
    and first letters (core/search/service.py, migration 0024)."""
    return Index(name, "tenant_id", func.length(text(column)), column, postgresql_where=text("deleted_at IS NULL"))
