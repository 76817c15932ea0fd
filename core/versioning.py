"""Optimistic locking at the service edge: a caller that says which version it edits gets a 409 when stale."""

from __future__ import annotations

from typing import Any

from core.errors import Conflict


def check_version(record: Any, expected: int | None) -> None:
    if expected is not None and record.version != expected:
        raise Conflict(
            f"This record was changed by someone else (now version {record.version}, you edited {expected}); "
            "reload it and apply your change again",
            details={"currentVersion": record.version},
            code="VERSION_CONFLICT",
        )
