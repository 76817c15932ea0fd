"""Time-ordered UUIDs (v7): index-friendly primary keys generated in Python."""

from uuid import UUID

from uuid6 import uuid7 as _uuid7


def new_id() -> UUID:
    return UUID(bytes=_uuid7().bytes)
