from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import DateTime, Index, Integer, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.modeling import IdMixin, TenantMixin


class IdempotencyKey(IdMixin, TenantMixin, Base):
    """The first answer to a POST sent with an `Idempotency-Key`, replayed to retries of the same request."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        Index("uq_idempotency_keys_tenant_key", "tenant_id", "key", unique=True),
        Index("ix_idempotency_keys_created", "created_at"),
    )

    key: Mapped[str] = mapped_column(String(255), nullable=False)
    principal: Mapped[UUID | None] = mapped_column()
    method: Mapped[str] = mapped_column(String(10), nullable=False)
    path: Mapped[str] = mapped_column(String(500), nullable=False)
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[dict | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
