"""The outbox. `emit` writes an event in the caller's transaction; the worker's dispatcher claims pending
events and starts one job per subscriber (`subscribe`), so reactions happen at least once and only for
committed changes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

from pydantic_core import to_json
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.actor import Actor
from core.events.models import Event
from core.ids import new_id

_subscribers: dict[str, list[str]] = defaultdict(list)

# Whether a tenant has any use for a job kind's reaction to an event type, asked by the dispatcher in its
# transaction (bound to the tenant) before it starts the job: (session, tenant_id, event_type) -> bool.
Interest = Callable[[Session, UUID, str], bool]
_interest: dict[str, Interest] = {}
_debounce: dict[str, Callable[[], int]] = {}

DISPATCH_TASK = "core.events.dispatch"
_WAKE_DISPATCHER = text(
    "INSERT INTO procrastinate_jobs (queue_name, task_name, priority, args)"
    " SELECT 'default', CAST(:task AS varchar), 0, '{}'::jsonb"
    " WHERE NOT EXISTS (SELECT 1 FROM procrastinate_jobs WHERE task_name = CAST(:task AS varchar)"
    " AND status = 'todo')"
)


_EVENT_COLUMNS = "id, tenant_id, type, entity_type, entity_id, actor_user_id, payload"
_INSERT_EVENTS = text(
    f"INSERT INTO events ({_EVENT_COLUMNS}) SELECT {_EVENT_COLUMNS}"
    " FROM jsonb_populate_recordset(NULL::events, CAST(:rows AS jsonb))"
)


def subscribe(
    event_type: str,
    job_kind: str,
    *,
    when: Interest | None = None,
    debounce_seconds: Callable[[], int] | None = None,
) -> None:
    """Run job `job_kind` (with params {"event_id", "type", "entity_id", ...}) for each `event_type` event.

    `event_type` may be `*` for every event. Registered at import time by the modules that react. `when`, if
    given, is asked per tenant and event type first, so that a tenant with nothing to react (no webhooks) costs
    no job per event: an import of 100,000 contacts would otherwise queue 100,000 jobs that do nothing.

    With `debounce_seconds`, the reaction is not per event but per tenant and time window: one job (params
    `{"trigger": "event"}`) at the end of the window in which events arrived, for work that catches up on
    everything at once (the warehouse load).
    """
    if job_kind not in _subscribers[event_type]:
        _subscribers[event_type].append(job_kind)
    if when is not None:
        _interest[job_kind] = when
    if debounce_seconds is not None:
        _debounce[job_kind] = debounce_seconds


def unsubscribe(event_type: str, job_kind: str) -> None:
    """Undo `subscribe` (tests that turn a reaction on for themselves only)."""
    if job_kind in _subscribers.get(event_type, []):
        _subscribers[event_type].remove(job_kind)
    if not any(job_kind in kinds for kinds in _subscribers.values()):
        _interest.pop(job_kind, None)
        _debounce.pop(job_kind, None)


def debounce_window(job_kind: str) -> int | None:
    """The debounce window (seconds) of a debounced subscriber, None for a per-event one."""
    window = _debounce.get(job_kind)
    return None if window is None else window()


def interested(session: Session, tenant_id: UUID, event_type: str, job_kind: str) -> bool:
    """Whether the tenant has a use for `job_kind`'s reaction to `event_type` (always, without a `when`)."""
    when = _interest.get(job_kind)
    return when is None or when(session, tenant_id, event_type)


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


def emit_many(
    session: Session,
    actor: Actor,
    event_type: str,
    *,
    entity_type: str,
    events: Iterable[tuple[UUID, dict[str, Any]]],
) -> int:
    """`emit` for many records at once (imports): one event per (entity id, payload), written by one
    statement (the rows travel as one JSON parameter) with one wake-up of the dispatcher. Payloads may hold
    what pydantic encodes as JSON (UUIDs, datetimes, decimals). Returns how many events were written."""
    rows = [
        {
            "id": new_id(),
            "tenant_id": actor.tenant_id,
            "type": event_type,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "actor_user_id": actor.user_id,
            "payload": payload or {},
        }
        for entity_id, payload in events
    ]
    if not rows:
        return 0
    session.execute(_INSERT_EVENTS, {"rows": to_json(rows).decode()})
    session.execute(_WAKE_DISPATCHER, {"task": DISPATCH_TASK})
    return len(rows)
