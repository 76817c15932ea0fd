"""Per-item results for bulk work (the seed's `{created, failed, results[{index, success, id | error}]}`).

Each item runs in its own SAVEPOINT (`session.begin_nested()`): a bad item rolls back only its own writes and
becomes an error result, the good ones stay in the caller's transaction. Expected failures (domain errors,
validation, constraint and version conflicts) become results; anything else is a bug and propagates, so the
whole request fails rather than reporting half a truth.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from core.errors import DomainError, ValidationFailed

MAX_ITEMS = 100

T = TypeVar("T")


@dataclass(frozen=True)
class ItemResult:
    index: int
    success: bool
    id: UUID | None = None
    error: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        item: dict[str, Any] = {"index": self.index, "success": self.success}
        if self.id is not None:
            item["id"] = str(self.id)
        if self.error is not None:
            item["error"] = self.error
        return item


@dataclass(frozen=True)
class BulkOutcome:
    results: list[ItemResult]

    @property
    def succeeded(self) -> int:
        return sum(1 for r in self.results if r.success)

    @property
    def failed(self) -> int:
        return len(self.results) - self.succeeded

    def summary(self, verb: str) -> dict[str, Any]:
        """`{<verb>: n, failed: m, results: [...]}`, e.g. verb "created", "updated" or "deleted"."""
        return {verb: self.succeeded, "failed": self.failed, "results": [r.as_dict() for r in self.results]}


def check_size(items: Sequence[Any], *, field: str, limit: int = MAX_ITEMS) -> None:
    """Refuse an empty or oversized batch as a whole (400 naming `field`)."""
    if not items:
        raise ValidationFailed(
            f"{field} is empty: send at least one item", details=[{"field": field, "message": "empty"}]
        )
    if len(items) > limit:
        raise ValidationFailed(
            f"At most {limit} items per bulk request; split the {len(items)} items into batches",
            details=[{"field": field, "message": f"at most {limit} items"}],
        )


def item_error(exc: BaseException) -> dict[str, Any] | None:
    """The error object of a failed item, or None when `exc` is not an expected failure."""
    if isinstance(exc, DomainError):
        return {"code": exc.code, "message": exc.message, "details": exc.details}
    if isinstance(exc, ValidationError):
        details = [
            {
                "field": ".".join(str(p) for p in err["loc"]) or "body",
                "message": "unknown field: remove it" if err["type"] == "extra_forbidden" else err["msg"],
                "type": err["type"],
            }
            for err in exc.errors(include_url=False, include_input=False)
        ]
        fields = ", ".join(sorted({d["field"] for d in details}))
        return {"code": "VALIDATION_ERROR", "message": f"Invalid data: check {fields}", "details": details}
    if isinstance(exc, StaleDataError):
        return {
            "code": "VERSION_CONFLICT",
            "message": "This record was changed by someone else; reload it and apply your change again",
            "details": None,
        }
    if isinstance(exc, IntegrityError):
        return {
            "code": "CONFLICT",
            "message": "The change conflicts with existing data (a duplicate or a missing related record)",
            "details": None,
        }
    return None


def run_each(
    session: Session,
    items: Sequence[T],
    work: Callable[[T], UUID],
    *,
    key: Callable[[T], UUID | None] | None = None,
) -> BulkOutcome:
    """Run `work(item)` for every item, each in its own savepoint; `work` returns the id of the record it
    touched. `key` names the record of a failed item (e.g. the id the client sent) in its result."""
    results: list[ItemResult] = []
    for index, item in enumerate(items):
        try:
            with session.begin_nested():
                record_id = work(item)
        except Exception as exc:
            error = item_error(exc)
            if error is None:
                raise
            results.append(ItemResult(index, False, id=key(item) if key else None, error=error))
        else:
            results.append(ItemResult(index, True, id=record_id))
    return BulkOutcome(results)


def delete_each(session: Session, ids: Sequence[UUID], delete: Callable[[UUID], None]) -> BulkOutcome:
    """`delete(id)` for every id, each in its own savepoint; a failure names the id the client sent."""

    def work(record_id: UUID) -> UUID:
        delete(record_id)
        return record_id

    return run_each(session, ids, work, key=lambda record_id: record_id)
