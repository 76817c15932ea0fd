"""Embeddings in the worker.

- `nlp.changes`: after any change, one pass over the records changed since the last one (per tenant; the
  `CLIENTFORGE_EMBEDDING_DEBOUNCE` window, 0 s by default, batches bursts such as imports): a changed note is
  searchable by meaning within seconds of its commit (event dispatch, then this job).
- `nlp.embed_all`: every record of a workspace, with progress, committing as it goes (the bulk job behind the
  Admin page's button, `POST /api/v1/search/embeddings/rebuild` and `clientforge embeddings rebuild`).
"""

from __future__ import annotations

from typing import Any

from ai.nlp import store
from core.actor import Actor
from core.config import get_settings
from core.db import unit_of_work
from core.events.service import subscribe
from core.jobs.registry import JobContext, handler
from core.search.service import EMBED_ALL_JOB

CHANGES = "nlp.changes"
EMBED_ALL = EMBED_ALL_JOB


@handler(CHANGES, max_attempts=3, backoff_seconds=5.0)
def changes(ctx: JobContext) -> dict[str, Any]:
    with unit_of_work(Actor.system(ctx.tenant_id)) as session:
        return store.refresh(session, ctx.tenant_id)


@handler(EMBED_ALL, max_attempts=3, backoff_seconds=30.0)
def embed_all(ctx: JobContext) -> dict[str, Any]:
    """Rebuild: read every record, embed what has no current vector, drop vectors of records gone. A retry
    after a crash re-reads everything but embeds only what the crashed attempt had not committed."""
    with unit_of_work(Actor.system(ctx.tenant_id)) as session:
        result = store.refresh(
            session,
            ctx.tenant_id,
            full=True,
            progress=lambda pct, msg: ctx.save(session, progress=pct, message=msg),
            commit=session.commit,
        )
        embedded = sum(result["embedded"].values())
        ctx.save(session, progress=100, message=f"{sum(result['read'].values()):,} records read, {embedded:,} embedded")
    return result


# Events about the records that have vectors (a task or a team changes none of them).
EMBEDDED_EVENTS = ("account.", "contact.", "deal.", "note.", "activity.")


def _about_embedded_records(session: Any, tenant_id: Any, event_type: str) -> bool:
    return event_type.startswith(EMBEDDED_EVENTS)


def subscribe_changes() -> None:
    subscribe(
        "*",
        CHANGES,
        when=_about_embedded_records,
        debounce_seconds=lambda: get_settings().embedding_debounce_seconds,
    )


subscribe_changes()
