"""Idempotency keys: the storage rules behind `Idempotency-Key` on POST (the API layer is api/idempotency.py).

A key belongs to one tenant (the unique index on `(tenant_id, key)`) and to the principal that first used it
(a user, or an API key). The life of a key:

1. `reserve` inserts the key *before* the request's work, in its own committed transaction. Of two concurrent
   requests with one key, the unique index lets exactly one insert; the other sees the reservation.
2. The request runs. `complete` then stores its response (status, Location and content type, body); `release`
   deletes the reservation instead when the request failed (a failed request changed nothing, so the client
   may retry it with the same key).
3. A later request with the key gets: the stored response when it is the same request (method, path, query
   and body; JSON compared by content, not formatting) by the same principal; a `Conflict` when it differs or
   comes from another principal; `IN_PROGRESS` while the first one still runs.

Keys expire 24 hours after their first use: an expired key is reserved afresh. A reservation left in progress
for longer than `STALE_AFTER` (its process died between the work and storing the response) is abandoned and may
be reserved again.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from uuid import UUID

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from core.actor import Actor
from core.errors import Conflict, ValidationFailed
from core.ids import new_id
from core.records.models import IdempotencyKey

TTL = timedelta(hours=24)
STALE_AFTER = timedelta(minutes=5)
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, as in the IETF draft's examples
REPLAYED_HEADERS = ("content-type", "location")
PURGE_BATCH = 100


@dataclass(frozen=True)
class StoredResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class Reserved:
    """This request owns the key: do the work, then `complete` or `release` with this id."""

    id: UUID


IN_PROGRESS: Literal["in_progress"] = "in_progress"
Reservation = Reserved | StoredResponse | Literal["in_progress"]


def check_key(key: str) -> None:
    if not KEY_PATTERN.match(key):
        raise ValidationFailed(
            "Invalid Idempotency-Key: use 1 to 255 visible ASCII characters, e.g. a UUID",
            details=[{"field": "Idempotency-Key", "message": "1-255 visible ASCII characters"}],
        )


def fingerprint(method: str, path: str, query: str, body: bytes, content_type: str | None = None) -> str:
    """What makes two requests "the same": method, path, query and body (a JSON body by its content, so a
    client that re-serialises it differently still matches)."""
    canonical = body
    if body and (content_type or "").split(";")[0].strip().lower() in ("application/json", ""):
        try:
            canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
        except ValueError:
            canonical = body
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), query.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def principal_of(actor: Actor) -> UUID | None:
    return actor.api_key_id or actor.user_id


def _now(session: Session) -> datetime:
    """The database's clock (the one `created_at` was set by)."""
    return session.scalar(select(func.now())) or datetime.now(UTC)


def purge_expired(session: Session, actor: Actor) -> int:
    """Delete up to `PURGE_BATCH` of the tenant's expired keys (run with each reservation)."""
    cutoff = _now(session) - TTL
    expired = (
        select(IdempotencyKey.id)
        .where(IdempotencyKey.tenant_id == actor.tenant_id, IdempotencyKey.created_at < cutoff)
        .limit(PURGE_BATCH)
    )
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.id.in_(expired.scalar_subquery())))
    return int(getattr(result, "rowcount", 0) or 0)


def _insert(session: Session, actor: Actor, *, key: str, method: str, path: str, request_hash: str) -> UUID | None:
    statement = (
        insert(IdempotencyKey)
        .values(
            id=new_id(),
            tenant_id=actor.tenant_id,
            key=key,
            principal=principal_of(actor),
            method=method.upper(),
            path=path[:500],
            request_hash=request_hash,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "key"])
        .returning(IdempotencyKey.id)
    )
    return session.scalar(statement)


def _stored(row: IdempotencyKey) -> StoredResponse:
    response = row.response or {}
    raw = response.get("body", "")
    body = base64.b64decode(raw) if response.get("encoding") == "base64" else raw.encode()
    headers = [(str(k), str(v)) for k, v in response.get("headers", [])]
    return StoredResponse(status=int(row.status_code or 200), headers=headers, body=body)


def reserve(session: Session, actor: Actor, *, key: str, method: str, path: str, request_hash: str) -> Reservation:
    """Claim `key` for this request (commit right after), or say what an earlier use of it decides."""
    check_key(key)
    purge_expired(session, actor)
    reserved = _insert(session, actor, key=key, method=method, path=path, request_hash=request_hash)
    if reserved is not None:
        return Reserved(reserved)
    row = session.scalar(
        select(IdempotencyKey)
        .where(IdempotencyKey.tenant_id == actor.tenant_id, IdempotencyKey.key == key)
        .with_for_update()
    )
    if row is None:  # deleted (released or purged) since our insert collided: try once more
        reserved = _insert(session, actor, key=key, method=method, path=path, request_hash=request_hash)
        return Reserved(reserved) if reserved is not None else IN_PROGRESS
    now = _now(session)
    expired = row.created_at < now - TTL
    abandoned = row.status_code is None and row.created_at < now - STALE_AFTER
    if expired or abandoned:
        session.delete(row)
        session.flush()
        reserved = _insert(session, actor, key=key, method=method, path=path, request_hash=request_hash)
        return Reserved(reserved) if reserved is not None else IN_PROGRESS
    if row.principal != principal_of(actor) or (row.method, row.path, row.request_hash) != (
        method.upper(),
        path[:500],
        request_hash,
    ):
        raise Conflict(
            "This Idempotency-Key was already used for a different request (another body, path or caller); "
            "send a new key for a new request",
            details=[{"field": "Idempotency-Key", "message": "already used for a different request"}],
            code="IDEMPOTENCY_KEY_REUSED",
        )
    if row.status_code is None:
        return IN_PROGRESS
    return _stored(row)


def complete(session: Session, actor: Actor, reservation_id: UUID, response: StoredResponse) -> None:
    """Store the first response of the request that reserved the key, for its retries."""
    try:
        body, encoding = response.body.decode(), "utf-8"
    except UnicodeDecodeError:
        body, encoding = base64.b64encode(response.body).decode(), "base64"
    headers = [[k, v] for k, v in response.headers if k.lower() in REPLAYED_HEADERS]
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.tenant_id == actor.tenant_id, IdempotencyKey.id == reservation_id)
        .values(status_code=response.status, response={"headers": headers, "body": body, "encoding": encoding})
    )


def release(session: Session, actor: Actor, reservation_id: UUID) -> None:
    """Give the key up (the request failed and changed nothing): a retry with it runs afresh."""
    session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.tenant_id == actor.tenant_id,
            IdempotencyKey.id == reservation_id,
            IdempotencyKey.status_code.is_(None),
        )
    )
