"""Sentiment in the worker.

- `sentiment.changes`: after any change to a note or an activity, one pass over the notes and activities changed
  since the last one (per tenant; the `CLIENTFORGE_EMBEDDING_DEBOUNCE` window, shared with the embeddings,
  batches bursts such as imports): a changed note's sentiment is stored within seconds of its commit. A tenant
  with more waiting than one pass takes (its first pass, an import) gets the next pass queued at once.
- `sentiment.rescore`: every note and activity of a workspace, with progress, committing as it goes (after a
  retraining, and on demand: `POST /api/v1/sentiment/rescore`).
- `sentiment.train`: the tenant's classifier retrained on its corrections (queued by each correction; seconds),
  then `sentiment.rescore` when the model that decides changed.

Threads: `limit_threads()` runs when this module is imported (the worker imports it through `job_modules`): BLAS
and OpenMP pools (threadpoolctl) and torch get `CLIENTFORGE_NLP_THREADS` threads (1 by default), as ONNX Runtime
does in ai/nlp/embeddings.py. On 2 cores one thread per process beat two under load; parallelism comes from
the worker's processes (`clientforge worker --concurrency`).
"""

from __future__ import annotations

import sys
from typing import Any

from ai.nlp import sentiment_crm as crm
from ai.nlp.embeddings import threads
from core.actor import Actor
from core.config import get_settings
from core.db import unit_of_work
from core.events.service import subscribe
from core.jobs import service as jobs
from core.jobs.registry import JobContext, handler
from core.sentiment import service

CHANGES = "sentiment.changes"
RESCORE = service.RESCORE_JOB
TRAIN = service.TRAIN_JOB
_TEXT_EVENTS = ("note.", "activity.")


def limit_threads() -> None:
    """BLAS/OpenMP and torch thread pools of this process to `CLIENTFORGE_NLP_THREADS` (1 by default)."""
    from threadpoolctl import threadpool_limits

    count = threads()
    threadpool_limits(limits=count)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(count)


limit_threads()


@handler(CHANGES, max_attempts=3, backoff_seconds=5.0)
def changes(ctx: JobContext) -> dict[str, Any]:
    system = Actor.system(ctx.tenant_id)
    with unit_of_work(system) as session:
        result = crm.read_changed(session, system)
        if result["more"]:
            key = f"{CHANGES}:{ctx.job_id}"
            jobs.enqueue_system(session, tenant_id=ctx.tenant_id, kind=CHANGES, params={"more": True}, dedupe_key=key)
    return result


@handler(RESCORE, max_attempts=3, backoff_seconds=30.0)
def rescore(ctx: JobContext) -> dict[str, Any]:
    """Every note and activity read again. A retry after a crash reads again what the crashed attempt had not
    committed (and, cheaply, what it had: the labels are the same)."""
    system = Actor.system(ctx.tenant_id)
    with unit_of_work(system) as session:
        result = crm.read_all(
            session,
            system,
            progress=lambda pct, msg: ctx.save(session, progress=pct, message=msg),
            commit=session.commit,
        )
        ctx.save(session, progress=100, message=f"{result['read']:,} notes and activities read")
    return result


@handler(TRAIN, max_attempts=2, backoff_seconds=10.0)
def train(ctx: JobContext) -> dict[str, Any]:
    system = Actor.system(ctx.tenant_id)
    with unit_of_work(system) as session:
        before = crm.active_model(session, system)[1]
        result = crm.train(session, system)
        after = crm.active_model(session, system)[1]
        changed = (before.id if before else None) != (after.id if after else None)
        if changed:
            result["rescore_job_id"] = str(service.queue_rescore(session, system).id)
        ctx.save(session, progress=100, message=result["message"])
    return result


def _about_text(session: Any, tenant_id: Any, event_type: str) -> bool:
    return event_type.startswith(_TEXT_EVENTS)


def subscribe_changes() -> None:
    """A pass over the changed notes and activities after a change to one (per tenant and debounce window)."""
    subscribe("*", CHANGES, when=_about_text, debounce_seconds=lambda: get_settings().embedding_debounce_seconds)


subscribe_changes()
