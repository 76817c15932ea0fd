"""Lead scoring in the worker.

- `scoring.train`: train on the workspace's outcomes (on demand through the API and the Models page, and when
  the active model is older than the settings' `retrain_every_days`); then rescore every open lead.
- `scoring.rescore`: a full rescoring (bulk), e.g. after rules change.
- `scoring.changes`: after any change (a lead, its activities, deals, account, custom values), the leads touched
  since the last pass are rescored: a change shows in the score within seconds (the event dispatch, then this
  job; `scoring_debounce_seconds` batches bursts such as imports into one pass).
- `scoring.schedule` (hourly): queues the retraining of every workspace that is due.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from ai.models import registry
from ai.scoring import crm
from core.actor import Actor
from core.config import get_settings
from core.db import unit_of_work
from core.events.service import subscribe
from core.jobs import service as jobs
from core.jobs.registry import JobContext, handler, periodic
from core.scoring import service as scoring

TRAIN = scoring.TRAIN_JOB
RESCORE = scoring.RESCORE_JOB
CHANGES = "scoring.changes"
SCHEDULE = "scoring.schedule"


@handler(TRAIN, max_attempts=2, backoff_seconds=60.0)
def train(ctx: JobContext) -> dict[str, Any]:
    system = Actor.system(ctx.tenant_id)
    with unit_of_work(system) as session:
        result = crm.train_workspace(
            session, system, activate=str(ctx.params.get("activate", "if_better")), progress=ctx.progress
        )
    ctx.progress(85, "rescoring the open leads")
    with unit_of_work(system) as session:
        result["rescored"] = crm.rescore(session, system)["scored"]
        ctx.save(session, progress=100, message=result["message"])
    return result


@handler(RESCORE, max_attempts=3, backoff_seconds=30.0)
def rescore(ctx: JobContext) -> dict[str, Any]:
    system = Actor.system(ctx.tenant_id)
    ctx.progress(5, "scoring the open leads")
    with unit_of_work(system) as session:
        result = crm.rescore(session, system)
        ctx.save(session, progress=100, message=f"{result['scored']:,} leads scored")
    return result


@handler(CHANGES, max_attempts=3, backoff_seconds=5.0)
def changes(ctx: JobContext) -> dict[str, Any]:
    system = Actor.system(ctx.tenant_id)
    with unit_of_work(system) as session:
        return crm.rescore_changed(session, system)


def subscribe_changes() -> None:
    """A pass over the changed leads after any change (one per tenant and debounce window). On at import."""
    subscribe("*", CHANGES, debounce_seconds=lambda: get_settings().scoring_debounce_seconds)


subscribe_changes()


@periodic(SCHEDULE, every_seconds=lambda: 3600)
def schedule(timestamp: int) -> int:
    """Queue the retraining of every workspace whose champion is older than its `retrain_every_days` (or that
    has none but rules)."""
    with unit_of_work() as session:
        tenants = list(session.execute(text("SELECT id FROM cf_active_tenant_ids()")).scalars())
    now = datetime.fromtimestamp(timestamp, UTC)
    queued = 0
    for tenant_id in tenants:
        system = Actor.system(tenant_id)
        with unit_of_work(system) as session:
            settings = scoring.get_settings(session, system)
            newest = registry.list_models(session, system, crm.MODEL_TYPE, limit=50)
            trained = [m for m in newest if m.algorithm != crm.RULES and m.trained_at is not None]
            due = not trained or now - trained[0].trained_at >= timedelta(days=settings.retrain_every_days)
            if not due:
                continue
            day = now.date().isoformat()
            jobs.enqueue_system(
                session, tenant_id=tenant_id, kind=TRAIN, params={"trigger": "schedule"}, dedupe_key=f"{TRAIN}:{day}"
            )
            queued += 1
    return queued
