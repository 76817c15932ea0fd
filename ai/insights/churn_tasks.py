"""Churn risk in the worker.

- `churn.refresh`: retrain on the workspace's churn outcomes (the model replaces the rules only when it ranks the
  latest outcomes better), then give every customer account its risk. Queued nightly for every workspace and on
  demand (POST /api/v1/insights/churn/refresh).
- `churn.changes`: after changes (an account, its deals, contacts, activities, tasks or notes), the accounts touched
  since the last refresh get their risk again; one job per tenant and DEBOUNCE_SECONDS window, so an import or a
  busy afternoon costs one pass.
- `churn.nightly` (hourly check): queues one `churn.refresh` per workspace and day.
"""

from __future__ import annotations

from typing import Any

from ai.insights import churn
from core.actor import Actor
from core.churn import service as risks
from core.db import unit_of_work
from core.events.service import subscribe
from core.jobs import service as jobs
from core.jobs.registry import JobContext, handler, periodic

REFRESH = risks.REFRESH_JOB
CHANGES = "churn.changes"
NIGHTLY = "churn.nightly"
DEBOUNCE_SECONDS = 30
WATCHED = ("account.", "deal.", "contact.", "activity.", "task.", "note.")


@handler(REFRESH, max_attempts=2, backoff_seconds=60.0)
def refresh(ctx: JobContext) -> dict[str, Any]:
    system = Actor.system(ctx.tenant_id)
    with unit_of_work(system) as session:
        result = churn.train_workspace(session, system, progress=ctx.progress)
    ctx.progress(92, "giving every customer account its risk")
    with unit_of_work(system) as session:
        result["scored"] = churn.refresh(session, system)["scored"]
        ctx.save(session, progress=100, message=f"{result['message']} {result['scored']:,} accounts scored.")
    return result


@handler(CHANGES, max_attempts=3, backoff_seconds=5.0)
def changes(ctx: JobContext) -> dict[str, Any]:
    system = Actor.system(ctx.tenant_id)
    with unit_of_work(system) as session:
        return churn.refresh_changed(session, system)


def _interested(session: Any, tenant_id: Any, event_type: str) -> bool:
    return event_type.startswith(WATCHED)


def subscribe_changes() -> None:
    """One pass over the touched accounts per tenant and debounce window, after record changes. On at import."""
    subscribe("*", CHANGES, when=_interested, debounce_seconds=lambda: DEBOUNCE_SECONDS)


subscribe_changes()


@periodic(NIGHTLY, every_seconds=lambda: 3600)
def nightly(timestamp: int) -> int:
    """Queue one refresh per active workspace and UTC day (deduplicated: the hourly checks add nothing more)."""
    return jobs.enqueue_daily(REFRESH, timestamp, {"trigger": "nightly"})
