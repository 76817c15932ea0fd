"""The seed's response envelope: `{success, data, meta{timestamp, requestId}}`, errors and pagination."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from core.db import current_context

T = TypeVar("T")


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class Meta(_Camel):
    timestamp: datetime
    request_id: str | None = None


class Pagination(_Camel):
    page: int
    limit: int
    total: int
    total_pages: int
    has_next: bool
    has_prev: bool


class Envelope(_Camel, Generic[T]):
    success: bool = True
    data: T
    meta: Meta


class PagedEnvelope(_Camel, Generic[T]):
    success: bool = True
    data: list[T]
    pagination: Pagination
    meta: Meta


class ErrorDetail(_Camel):
    code: str = Field(examples=["VALIDATION_ERROR"])
    message: str
    details: Any = None


class ErrorEnvelope(_Camel):
    success: bool = False
    error: ErrorDetail
    meta: Meta


def meta() -> dict[str, Any]:
    return {"timestamp": datetime.now(UTC).isoformat(), "requestId": current_context().request_id}


def ok(data: Any) -> dict[str, Any]:
    return {"success": True, "data": data, "meta": meta()}


def paged(items: list[Any], *, page: int, limit: int, total: int) -> dict[str, Any]:
    pages = math.ceil(total / limit) if limit else 0
    return {
        "success": True,
        "data": items,
        "pagination": {
            "page": page,
            "limit": limit,
            "total": total,
            "totalPages": pages,
            "hasNext": page < pages,
            "hasPrev": page > 1,
        },
        "meta": meta(),
    }


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"success": False, "error": {"code": code, "message": message, "details": details}, "meta": meta()}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI declarations of the error envelope for a route. What every route shares is declared once for all
    of them in api/main.py: 400 where input is validated, 401 where authentication applies, 413 with a body,
    409 (Idempotency-Key) on POST, 429 under /api/v1."""
    descriptions = {
        400: "Invalid input",
        401: "Not authenticated",
        403: "Not allowed",
        404: "Not found",
        409: "Conflict",
        413: "Body too large",
        429: "Rate limited",
    }
    return {s: {"model": ErrorEnvelope, "description": descriptions.get(s, "Error")} for s in statuses}


class CursorPagination(_Camel):
    limit: int
    next_cursor: str | None = Field(description="Send as `cursor` for the next page; null on the last page.")
    has_next: bool


class CursorPagedEnvelope(_Camel, Generic[T]):
    success: bool = True
    data: list[T]
    pagination: CursorPagination
    meta: Meta


def cursor_paged(items: list[Any], *, limit: int, next_cursor: str | None) -> dict[str, Any]:
    """A keyset page: the cursor of the next page instead of a total (lists stay fast when large)."""
    return {
        "success": True,
        "data": items,
        "pagination": {"limit": limit, "nextCursor": next_cursor, "hasNext": next_cursor is not None},
        "meta": meta(),
    }
