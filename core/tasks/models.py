from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.modeling import IdMixin, SoftDeleteMixin, TenantMixin, TimestampMixin, VersionMixin

PRIORITIES = ("low", "normal", "high", "urgent")
STATUSES = ("open", "in_progress", "done", "cancelled")


class Task(IdMixin, TenantMixin, TimestampMixin, SoftDeleteMixin, VersionMixin, Base):
    """A to-do with a due date for an assignee, optionally about a contact, account or deal. Overdue is
    derived: open or in progress and `due_at` in the past."""

    __tablename__ = "tasks"
    __owner_column__ = "assignee_id"
    __table_args__ = (
        Index(
            "ix_tasks_tenant_assignee_due",
            "tenant_id",
            "assignee_id",
            "due_at",
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index(
            "ix_tasks_tenant_open_due",
            "tenant_id",
            "due_at",
            postgresql_where=text("deleted_at IS NULL AND status IN ('open', 'in_progress')"),
        ),
        Index("ix_tasks_tenant_contact", "tenant_id", "contact_id"),
        Index("ix_tasks_tenant_account", "tenant_id", "account_id"),
        Index("ix_tasks_tenant_deal", "tenant_id", "deal_id"),
        Index("ix_tasks_tenant_updated", "tenant_id", "updated_at"),  # the warehouse load's watermark
        CheckConstraint(f"priority IN {PRIORITIES}", name="ck_tasks_priority"),
        CheckConstraint(f"status IN {STATUSES}", name="ck_tasks_status"),
        CheckConstraint("(status = 'done') = (completed_at IS NOT NULL)", name="ck_tasks_completed_at"),
    )

    title: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    priority: Mapped[str] = mapped_column(String(10), nullable=False, default="normal", server_default="normal")
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="open", server_default="open")
    assignee_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"), nullable=False)
    created_by: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    contact_id: Mapped[UUID | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    account_id: Mapped[UUID | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    deal_id: Mapped[UUID | None] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
