"""Background jobs as users see them: enqueue (transactional), read with record scope, cancel.

The Job row is the user-facing record (status, progress, result); the queue entry that makes a worker run it
is procrastinate's, written by `core.jobs.queue.defer` in the same transaction, so a job exists for the
worker exactly when the caller's change committed. Services that start work check their own permission
(e.g. `imports:create`) before calling `enqueue`; `enqueue` itself does not.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from core.actor import Actor
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.ids import new_id
from core.jobs import queue, registry
from core.jobs.models import Job

TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})


def _json(params: dict[str, Any] | None) -> dict[str, Any]:
    """Params as stored (JSON): UUIDs, datetimes and decimals become strings, so the first run sees what a
    retry sees."""
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise ValidationFailed(
            "Job params must be an object", details=[{"field": "params", "message": "not an object"}]
        )
    return json.loads(json.dumps(params, default=str))


def _insert(
    session: Session,
    tenant_id: UUID,
    created_by: UUID | None,
    api_key_id: UUID | None,
    kind: str,
    params: dict[str, Any],
    run_at: datetime | None,
    dedupe_key: str | None,
) -> Job:
    job_id = new_id()
    statement = (
        insert(Job)
        .values(
            id=job_id,
            tenant_id=tenant_id,
            kind=kind,
            status="queued",
            progress=0,
            params=params,
            attempts=0,
            dedupe_key=dedupe_key,
            created_by=created_by,
            api_key_id=api_key_id,
            run_at=run_at,
        )
        .on_conflict_do_nothing(index_elements=[Job.tenant_id, Job.dedupe_key], index_where=Job.dedupe_key.is_not(None))
        .returning(Job.id)
    )
    inserted = session.execute(statement).scalar_one_or_none()
    if inserted is None:
        existing = session.scalar(select(Job).where(Job.tenant_id == tenant_id, Job.dedupe_key == dedupe_key))
        if existing is None:  # pragma: no cover - the conflicting row is committed and visible by now
            raise Conflict("A job with this dedupe key exists but is not visible")
        return existing
    queue_job_id = queue.defer(session, job_id=job_id, tenant_id=tenant_id, run_at=run_at)
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(queue_job_id=queue_job_id)
        .execution_options(synchronize_session=False)
    )
    job = session.scalar(select(Job).where(Job.id == job_id).execution_options(populate_existing=True))
    assert job is not None
    return job


def enqueue(
    session: Session,
    actor: Actor,
    kind: str,
    params: dict[str, Any] | None = None,
    *,
    run_at: datetime | None = None,
    dedupe_key: str | None = None,
) -> Job:
    """Create a job of `kind` in the caller's transaction: it runs only if that transaction commits.

    It runs as the actor who queued it, reloaded at each attempt: their current role, narrowed to the API
    key's permissions when queued through a key; if the user or key is no longer active, it fails.

    `run_at` (timezone-aware) delays it. With `dedupe_key`, enqueueing again in the same tenant returns the
    existing job instead of a second one (safe for at-least-once callers such as event reactions).
    """
    if registry.get_handler(kind) is None:
        registry.load_handler_modules()
        if registry.get_handler(kind) is None:
            raise ValidationFailed(
                f"Unknown job kind '{kind}'",
                details=[{"field": "kind", "message": "no handler is registered"}],
            )
    if run_at is not None and run_at.tzinfo is None:
        raise ValidationFailed(
            "run_at must include a timezone", details=[{"field": "runAt", "message": "timezone required"}]
        )
    if dedupe_key is not None and not 0 < len(dedupe_key) <= 200:
        raise ValidationFailed(
            "dedupe_key must have 1 to 200 characters",
            details=[{"field": "dedupeKey", "message": "1 to 200 characters"}],
        )
    return _insert(session, actor.tenant_id, actor.user_id, actor.api_key_id, kind, _json(params), run_at, dedupe_key)


def react(
    session: Session,
    *,
    tenant_id: UUID,
    kind: str,
    event_id: UUID,
    event_type: str,
    entity_type: str | None,
    entity_id: UUID | None,
    payload: dict[str, Any] | None,
) -> Job:
    """The job of subscriber `kind` for one outbox event, at most one per (event, kind) however often the
    event is delivered. The kind is not checked against this process's handlers: a subscriber whose handler
    this process never imported still gets a visible job (which a worker that knows it runs, or fails)."""
    params = _json(
        {
            "event_id": event_id,
            "type": event_type,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "payload": payload or {},
        }
    )
    return _insert(session, tenant_id, None, None, kind, params, None, f"event:{event_id}:{kind}")


def enqueue_system(
    session: Session,
    *,
    tenant_id: UUID,
    kind: str,
    params: dict[str, Any] | None = None,
    run_at: datetime | None = None,
    dedupe_key: str | None = None,
) -> Job:
    """A job of the platform itself for a tenant (no creator: it runs as the system actor), such as the periodic
    warehouse load. Callers are the worker's own periodic tasks and event dispatch, never a user request."""
    return _insert(session, tenant_id, None, None, kind, _json(params), run_at, dedupe_key)


def enqueue_daily(kind: str, timestamp: int, params: dict[str, Any] | None = None) -> int:
    """Queue `kind` once per active workspace and UTC day of `timestamp` (for nightly passes run by an hourly
    periodic task: the day's dedupe key makes the later hours add nothing). Returns the workspaces seen."""
    from sqlalchemy import text

    from core.db import unit_of_work

    with unit_of_work() as session:
        tenants = list(session.execute(text("SELECT id FROM cf_active_tenant_ids()")).scalars())
    day = datetime.fromtimestamp(timestamp, UTC).date().isoformat()
    for tenant_id in tenants:
        with unit_of_work(Actor.system(tenant_id)) as session:
            enqueue_system(session, tenant_id=tenant_id, kind=kind, params=params, dedupe_key=f"{kind}:{day}")
    return len(tenants)


def prune_system_jobs(session: Session, *, tenant_id: UUID, kind: str, finished_before: datetime) -> int:
    """Delete the tenant's finished system jobs (no creator) of `kind` that ended before `finished_before`: work
    the platform repeats every few minutes (warehouse loads) keeps its own log and need not keep every job."""
    statement = delete(Job).where(
        Job.tenant_id == tenant_id,
        Job.kind == kind,
        Job.created_by.is_(None),
        Job.api_key_id.is_(None),
        Job.status.in_(TERMINAL_STATUSES),
        Job.finished_at < finished_before,
    )
    return int(session.execute(statement).rowcount or 0)  # type: ignore[attr-defined]


def debounce(session: Session, *, tenant_id: UUID, kind: str, window_seconds: int) -> Job:
    """The one system job of `kind` for the tenant that runs at the end of the current `window_seconds` window
    (at once, with a window of 0): whatever else asks for it within the window gets the same job."""
    params = {"trigger": "event"}
    if window_seconds <= 0:
        return enqueue_system(session, tenant_id=tenant_id, kind=kind, params=params)
    window = int(datetime.now(UTC).timestamp()) // window_seconds
    run_at = datetime.fromtimestamp((window + 1) * window_seconds, UTC)
    key = f"{kind}:debounce:{window_seconds}:{window}"
    return enqueue_system(session, tenant_id=tenant_id, kind=kind, params=params, run_at=run_at, dedupe_key=key)


def get(session: Session, actor: Actor, job_id: UUID) -> Job:
    """A job the actor may see: own/team/all scope applies through `created_by`."""
    actor.require("jobs", "read")
    job = session.scalar(actor.readable(Job).where(Job.id == job_id))
    if job is None:
        raise NotFound("Job not found")
    return job


def list_jobs(session: Session, actor: Actor, *, limit: int = 50, offset: int = 0) -> tuple[list[Job], int]:
    """Newest first, with the total for pagination."""
    actor.require("jobs", "read")
    statement = actor.readable(Job)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = session.scalars(statement.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit).offset(offset))
    return list(rows), total


CANCELLABLE = frozenset({"queued", "retrying"})


def cancel(session: Session, actor: Actor, job_id: UUID) -> Job:
    """Cancel a job that is not running: queued, or waiting for its next attempt. Its creator or a
    `jobs:manage` holder may. A worker that fetches it anyway sees the cancelled row and skips it."""
    job = get(session, actor, job_id)
    if not actor.can("jobs", "manage") and (actor.user_id is None or job.created_by != actor.user_id):
        raise PermissionDenied(
            "Only the job's creator or a jobs manager can cancel it",
            details={"required": "jobs:manage", "role": actor.role},
        )
    # Lock against a worker marking it running at the same moment.
    session.refresh(job, with_for_update=True)
    if job.status not in CANCELLABLE:
        raise Conflict(f"Only queued or retrying jobs can be cancelled; this one is {job.status}")
    job.status = "cancelled"
    job.finished_at = datetime.now(UTC)
    if job.queue_job_id is not None:
        queue.cancel_deferred(session, job.queue_job_id)
    session.flush()
    return job
