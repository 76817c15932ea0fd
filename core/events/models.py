from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import DateTime, Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.modeling import IdMixin, TenantMixin


class Event(IdMixin, TenantMixin, Base):
    """The outbox: written in the same transaction as the change it describes, delivered by the worker."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_pending", "created_at", postgresql_where=text("dispatched_at IS NULL")),
        Index("ix_events_tenant_created", "tenant_id", "created_at"),
    )

    type: Mapped[str] = mapped_column(String(100), nullable=False)
    entity_type: Mapped[str | None] = mapped_column(String(50))
    entity_id: Mapped[UUID | None] = mapped_column()
    actor_user_id: Mapped[UUID | None] = mapped_column()
    payload: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
