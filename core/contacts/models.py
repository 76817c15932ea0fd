from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.modeling import IdMixin, SoftDeleteMixin, TenantMixin, TimestampMixin, VersionMixin, name_length_index
from core.records.columns import AddressMixin, OwnedMixin, TagsMixin, coalesced, search_vector

LEAD_STATUSES = ("new", "contacted", "qualified", "unqualified")
LIFECYCLE_STAGES = ("subscriber", "lead", "mql", "sql", "opportunity", "customer", "evangelist", "other")


class Contact(
    IdMixin, TenantMixin, OwnedMixin, AddressMixin, TagsMixin, TimestampMixin, SoftDeleteMixin, VersionMixin, Base
):
    """A person. Contacts are the leads (lead_status, lifecycle_stage, lead_score): the seed's contacts table."""

    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_tenant_owner", "tenant_id", "owner_id", postgresql_where=text("deleted_at IS NULL")),
        Index("ix_contacts_tenant_account", "tenant_id", "account_id"),
        Index("ix_contacts_tenant_updated", "tenant_id", "updated_at"),  # the warehouse load's watermark
        # a deleted record's merged duplicates are found by it (the foreign key's ON DELETE SET NULL)
        Index("ix_contacts_merged_into", "merged_into_id", postgresql_where=text("merged_into_id IS NOT NULL")),
        Index(
            "ix_contacts_tenant_email",
            "tenant_id",
            "email",
            postgresql_where=text("deleted_at IS NULL AND email IS NOT NULL"),
        ),
        Index(
            "ix_contacts_tenant_status_score",
            "tenant_id",
            "lead_status",
            "lead_score",
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index(
            "ix_contacts_tenant_status",
            "tenant_id",
            "lead_status",
            "created_at",
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index(
            "ix_contacts_tenant_lifecycle", "tenant_id", "lifecycle_stage", postgresql_where=text("deleted_at IS NULL")
        ),
        Index("ix_contacts_tenant_score", "tenant_id", "lead_score", postgresql_where=text("deleted_at IS NULL")),
        Index(
            "ix_contacts_tenant_created", "tenant_id", "created_at", "id", postgresql_where=text("deleted_at IS NULL")
        ),
        Index(
            "ix_contacts_tenant_name",
            "tenant_id",
            "last_name",
            "first_name",
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_contacts_tags", "tags", postgresql_using="gin"),
        name_length_index("ix_contacts_tenant_last_name_length", "last_name"),
        name_length_index("ix_contacts_tenant_first_name_length", "first_name"),
        Index("ix_contacts_search", "search", postgresql_using="gin"),
        CheckConstraint("lead_score BETWEEN 0 AND 100", name="ck_contacts_lead_score"),
        CheckConstraint(f"lead_status IS NULL OR lead_status IN {LEAD_STATUSES}", name="ck_contacts_lead_status"),
        CheckConstraint(
            f"lifecycle_stage IS NULL OR lifecycle_stage IN {LIFECYCLE_STAGES}", name="ck_contacts_lifecycle_stage"
        ),
        CheckConstraint("email IS NULL OR email = lower(email)", name="ck_contacts_email_lowercase"),
    )

    account_id: Mapped[UUID | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    first_name: Mapped[str] = mapped_column(String(100), nullable=False)
    last_name: Mapped[str] = mapped_column(String(100), nullable=False)
    email: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(50))
    mobile: Mapped[str | None] = mapped_column(String(50))
    title: Mapped[str | None] = mapped_column(String(100))
    department: Mapped[str | None] = mapped_column(String(100))
    company: Mapped[str | None] = mapped_column(String(255))  # the lead's company, before an account exists
    lead_source: Mapped[str | None] = mapped_column(String(100))
    lead_status: Mapped[str | None] = mapped_column(String(50), default="new")
    lifecycle_stage: Mapped[str | None] = mapped_column(String(50), default="lead")
    lead_score: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    social_linkedin: Mapped[str | None] = mapped_column(String(255))
    social_twitter: Mapped[str | None] = mapped_column(String(255))
    social_facebook: Mapped[str | None] = mapped_column(String(255))
    notes: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default="true")
    last_contacted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    search: Mapped[str] = search_vector(coalesced("first_name", "last_name", "email", "phone", "title"))
    merged_into_id: Mapped[UUID | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
