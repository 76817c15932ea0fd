from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.modeling import IdMixin, TenantMixin, TimestampMixin

JOB_STATUSES = ("queued", "running", "retrying", "succeeded", "failed", "cancelled")


class Job(IdMixin, TenantMixin, TimestampMixin, Base):
    """What a user sees of background work: status, progress, result. The queue itself is procrastinate's."""

    __tablename__ = "jobs"
    __owner_column__ = "created_by"
    __table_args__ = (
        Index("ix_jobs_tenant_created", "tenant_id", "created_at"),
        Index(
            "uq_jobs_tenant_dedupe",
            "tenant_id",
            "dedupe_key",
            unique=True,
            postgresql_where=text("dedupe_key IS NOT NULL"),
        ),
        CheckConstraint(f"status IN {JOB_STATUSES}", name="ck_jobs_status"),
        CheckConstraint("progress BETWEEN 0 AND 100", name="ck_jobs_progress"),
    )

    kind: Mapped[str] = mapped_column(String(100), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="queued", server_default="queued")
    progress: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    message: Mapped[str | None] = mapped_column(Text)
    params: Mapped[dict] = mapped_column(JSONB, nullable=False, default=dict, server_default="{}")
    checkpoint: Mapped[dict | None] = mapped_column(JSONB)
    result: Mapped[dict | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    queue_job_id: Mapped[int | None] = mapped_column(BigInteger)
    # Who queued it; the job runs as them (`core.jobs.queue`). NULL only for the platform's own jobs (event
    # reactions), which run as the system. Users are soft-deleted: no ON DELETE SET NULL that would turn a
    # user's job into a system one.
    created_by: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    # The API key it was queued with: the job then runs with the key's permissions only. No foreign key: a
    # key that is gone must fail the job, not silently widen it to its user's role.
    api_key_id: Mapped[UUID | None] = mapped_column()
    run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
