from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Numeric, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.modeling import IdMixin, SoftDeleteMixin, TenantMixin, TimestampMixin, VersionMixin, name_length_index
from core.records.columns import AddressMixin, OwnedMixin, TagsMixin, coalesced, search_vector


class Account(
    IdMixin, TenantMixin, OwnedMixin, AddressMixin, TagsMixin, TimestampMixin, SoftDeleteMixin, VersionMixin, Base
):
    """A company: the seed's accounts table plus a parent for hierarchies and a normalised domain."""

    __tablename__ = "accounts"
    __table_args__ = (
        Index("ix_accounts_tenant_owner", "tenant_id", "owner_id", postgresql_where=text("deleted_at IS NULL")),
        Index("ix_accounts_tenant_name", "tenant_id", "name", postgresql_where=text("deleted_at IS NULL")),
        name_length_index("ix_accounts_tenant_name_length", "name"),
        Index("ix_accounts_tenant_domain", "tenant_id", "domain", postgresql_where=text("deleted_at IS NULL")),
        Index("ix_accounts_tenant_parent", "tenant_id", "parent_id"),
        Index("ix_accounts_tenant_updated", "tenant_id", "updated_at"),  # the warehouse load's watermark
        # a deleted record's merged duplicates are found by it (the foreign key's ON DELETE SET NULL)
        Index("ix_accounts_merged_into", "merged_into_id", postgresql_where=text("merged_into_id IS NOT NULL")),
        Index(
            "ix_accounts_tenant_created", "tenant_id", "created_at", "id", postgresql_where=text("deleted_at IS NULL")
        ),
        Index("ix_accounts_tags", "tags", postgresql_using="gin"),
        Index("ix_accounts_search", "search", postgresql_using="gin"),
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="ck_accounts_not_own_parent"),
        CheckConstraint("annual_revenue IS NULL OR annual_revenue >= 0", name="ck_accounts_revenue"),
    )

    name: Mapped[str] = mapped_column(String(255), nullable=False)
    domain: Mapped[str | None] = mapped_column(String(255))
    website: Mapped[str | None] = mapped_column(String(255))
    industry: Mapped[str | None] = mapped_column(String(100))
    company_size: Mapped[str | None] = mapped_column(String(50))
    annual_revenue: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    phone: Mapped[str | None] = mapped_column(String(50))
    email: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    parent_id: Mapped[UUID | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default="true")
    search: Mapped[str] = search_vector(coalesced("name", "domain", "website", "industry", "address_city"))
    merged_into_id: Mapped[UUID | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
