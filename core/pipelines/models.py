from __future__ import annotations

from uuid import UUID

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.modeling import IdMixin, SoftDeleteMixin, TenantMixin, TimestampMixin, VersionMixin


class Pipeline(IdMixin, TenantMixin, TimestampMixin, SoftDeleteMixin, VersionMixin, Base):
    __tablename__ = "pipelines"
    __table_args__ = (
        Index(
            "uq_pipelines_tenant_name", "tenant_id", "name", unique=True, postgresql_where=text("deleted_at IS NULL")
        ),
        Index(
            "uq_pipelines_tenant_default",
            "tenant_id",
            unique=True,
            postgresql_where=text("is_default AND deleted_at IS NULL"),
        ),
    )

    name: Mapped[str] = mapped_column(String(100), nullable=False)
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default="false")
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="USD", server_default="USD")


class Stage(IdMixin, TenantMixin, TimestampMixin, SoftDeleteMixin, VersionMixin, Base):
    """An ordered stage of a pipeline (the seed's deal_stages). Deleting one is soft, so the stage history of
    deals that passed through it keeps its name; a deleted stage leaves the order (negative display_order)."""

    __tablename__ = "deal_stages"
    __table_args__ = (
        UniqueConstraint(
            "pipeline_id", "display_order", name="uq_deal_stages_pipeline_order", deferrable=True, initially="DEFERRED"
        ),
        Index(
            "uq_deal_stages_pipeline_name",
            "pipeline_id",
            "name",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_deal_stages_tenant_pipeline", "tenant_id", "pipeline_id"),
        CheckConstraint("probability BETWEEN 0 AND 100", name="ck_deal_stages_probability"),
        CheckConstraint("NOT is_won_stage OR is_closed_stage", name="ck_deal_stages_won_is_closed"),
        CheckConstraint("rotting_days IS NULL OR rotting_days > 0", name="ck_deal_stages_rotting_days"),
    )

    pipeline_id: Mapped[UUID] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    display_order: Mapped[int] = mapped_column(Integer, nullable=False)
    probability: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    is_closed_stage: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default="false")
    is_won_stage: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default="false")
    rotting_days: Mapped[int | None] = mapped_column(Integer)
