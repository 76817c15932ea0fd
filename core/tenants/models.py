from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, Index, Integer, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.modeling import IdMixin, SoftDeleteMixin, TimestampMixin, VersionMixin


class Tenant(IdMixin, TimestampMixin, SoftDeleteMixin, VersionMixin, Base):
    """A customer organisation. Its own row is visible only inside its own tenancy (RLS on `id`)."""

    __tablename__ = "tenants"
    __table_args__ = (
        Index("uq_tenants_slug", "slug", unique=True),
        Index("ix_tenants_active", "is_active", postgresql_where=text("deleted_at IS NULL")),
        CheckConstraint("slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'", name="ck_tenants_slug_format"),
        CheckConstraint("plan IN ('starter', 'professional', 'business', 'enterprise')", name="ck_tenants_plan"),
        CheckConstraint("max_users > 0 AND max_storage_gb > 0", name="ck_tenants_limits_positive"),
    )

    name: Mapped[str] = mapped_column(String(255), nullable=False)
    slug: Mapped[str] = mapped_column(String(63), nullable=False)
    plan: Mapped[str] = mapped_column(String(50), nullable=False, default="starter")
    max_users: Mapped[int] = mapped_column(Integer, nullable=False, default=5)
    max_storage_gb: Mapped[int] = mapped_column(Integer, nullable=False, default=10)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default="true")
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="UTC", server_default="UTC")
    settings: Mapped[dict] = mapped_column(JSONB, nullable=False, default=dict, server_default="{}")
    trial_ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    subscription_ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
