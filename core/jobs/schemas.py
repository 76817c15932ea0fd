from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from core.schemas import ReadSchema


class JobRead(ReadSchema):
    """What a user sees of background work; params, checkpoint and queue internals stay private."""

    id: UUID
    kind: str
    status: str
    progress: int
    message: str | None
    result: dict[str, Any] | None
    error: str | None
    attempts: int
    created_by: UUID | None
    run_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime
