"""The outbox. `emit` writes an event in the caller's transaction; the worker's dispatcher claims pending
events and starts one job per subscriber (`subscribe`), so reactions happen at least once and only for
committed changes."""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.actor import Actor
from core.events.models import Event
from core.ids import new_id

_subscribers: dict[str, list[str]] = defaultdict(list)

DISPATCH_TASK = "core.events.dispatch"
_WAKE_DISPATCHER = text(
    "INSERT INTO procrastinate_jobs (queue_name, task_name, priority, args)"
    " SELECT 'default', CAST(:task AS varchar), 0, '{}'::jsonb"
    " WHERE NOT EXISTS (SELECT 1 FROM procrastinate_jobs WHERE task_name = CAST(:task AS varchar)"
    " AND status = 'todo')"
)


def subscribe(event_type: str, job_kind: str) -> None:
    """Run job `job_kind` (with params {"event_id", "type", "entity_id", ...}) for each `event_type` event.

    `event_type` may be `*` for every event. Registered at import time by the modules that react.
    """
    if job_kind not in _subscribers[event_type]:
        _subscribers[event_type].append(job_kind)


def subscribers(event_type: str) -> list[str]:
    return [*_subscribers.get(event_type, []), *_subscribers.get("*", [])]


def emit(
    session: Session,
    actor: Actor,
    event_type: str,
    *,
    entity_type: str | None = None,
    entity_id: UUID | None = None,
    payload: dict[str, Any] | None = None,
) -> Event:
    event = Event(
        id=new_id(),
        tenant_id=actor.tenant_id,
        type=event_type,
        entity_type=entity_type,
        entity_id=entity_id,
        actor_user_id=actor.user_id,
        payload=payload or {},
    )
    session.add(event)
    # Wake the dispatcher in the same transaction, unless a dispatch is already waiting to run. No queueing
    # lock: its unique index made a concurrent emit (any tenant) wait for this transaction to end. Two
    # transactions may now both queue one; that is harmless (the dispatcher claims events with SKIP LOCKED and
    # reactions are deduplicated), and the periodic sweep catches an event committed after a dispatch ran.
    session.execute(_WAKE_DISPATCHER, {"task": DISPATCH_TASK})
    return event
