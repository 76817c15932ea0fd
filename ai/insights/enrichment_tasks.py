"""Enrichment in the worker.

- `enrichment.changes`: after contacts or accounts are created (one by one or by an import) or changed, one
  pass per tenant and debounce window recomputes the open suggestions of the records changed since the last
  pass (ai/insights/enrichment.py `enrich_changed`).
- `enrichment.backfill`: every contact and account of a workspace (its older records, or after the rules
  changed), with progress.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from ai.insights import enrichment
from core.actor import Actor
from core.config import get_settings
from core.db import unit_of_work
from core.events.service import subscribe
from core.jobs.registry import JobContext, handler

CHANGES = "enrichment.changes"
BACKFILL = "enrichment.backfill"
EVENTS = ("contact.created", "contact.updated", "account.created", "account.updated")


@handler(CHANGES, max_attempts=3, backoff_seconds=5.0)
def changes(ctx: JobContext) -> dict[str, Any]:
    system = Actor.system(ctx.tenant_id)
    with unit_of_work(system) as session:
        return enrichment.enrich_changed(session, system)


@handler(BACKFILL, max_attempts=2, backoff_seconds=30.0)
def backfill(ctx: JobContext) -> dict[str, Any]:
    system = Actor.system(ctx.tenant_id)
    result = {}
    for step, entity_type in enumerate(("accounts", "contacts")):
        with unit_of_work(system) as session:

            def progress(pct: int, message: str, step: int = step) -> None:
                ctx.progress(step * 50 + pct // 2, message)

            result[entity_type] = enrichment.enrich_all(session, system, entity_type, progress)
    with unit_of_work(system) as session:
        ctx.save(session, progress=100, message=f"{sum(result.values()):,} suggestions written")
    return result


def _debounce() -> int:
    """`enrichment_debounce_seconds` when the settings have it, else the embeddings' window (both batch an
    import's burst of events into one pass)."""
    settings = get_settings()
    return int(getattr(settings, "enrichment_debounce_seconds", settings.embedding_debounce_seconds))


def _record_change(session: Session, tenant_id: UUID, event_type: str) -> bool:
    return event_type in EVENTS


def subscribe_changes() -> None:
    """A pass over the changed contacts and accounts after they change (one per tenant and window). On at
    import; subscribed to every event and filtered by type, as ai/scoring/tasks.py's, so that the tests'
    clean-up of `*` reactions covers it."""
    subscribe("*", CHANGES, when=_record_change, debounce_seconds=_debounce)


subscribe_changes()
