"""The warehouse in the worker: the `etl.load` job, its periodic schedule and its trigger on changes.

Every tenant is loaded every `etl_interval_seconds` (default 5 minutes), and soon after any change: each event
asks for one load per tenant at the end of a `etl_debounce_seconds` window, so a burst of changes (an import)
costs one load, and a change reaches the warehouse within the window plus the length of a load.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from core.config import get_settings
from core.db import unit_of_work
from core.events.service import subscribe
from core.jobs import service as jobs
from core.jobs.registry import JobContext, handler, periodic
from etl import pipeline

LOAD = "etl.load"
SCHEDULE = "etl.schedule"
TRIGGERS = ("manual", "schedule", "event", "api")


@handler(LOAD, max_attempts=3, backoff_seconds=30.0)
def load(ctx: JobContext) -> dict[str, Any]:
    """One load of the job's tenant (incremental unless `{"full": true}`)."""
    trigger = str(ctx.params.get("trigger", "event"))
    result = pipeline.run(
        ctx.tenant_id, full=bool(ctx.params.get("full", False)), trigger=trigger if trigger in TRIGGERS else "event"
    )
    return {
        "runId": str(result.run_id),
        "version": result.version,
        "full": result.full,
        "seconds": round(result.seconds, 3),
        "rowsIn": result.rows_in,
        "rowsOut": result.rows_out,
    }


subscribe("*", LOAD, debounce_seconds=lambda: get_settings().etl_debounce_seconds)


@periodic(SCHEDULE, every_seconds=lambda: get_settings().etl_interval_seconds)
def schedule(timestamp: int) -> int:
    """Queue a load of every active tenant (one per tenant and period, however many workers ask)."""
    with unit_of_work() as session:
        tenants = list(session.execute(text("SELECT id FROM cf_active_tenant_ids()")).scalars())
    for tenant_id in tenants:
        with unit_of_work(tenant_id=tenant_id) as session:
            jobs.enqueue_system(
                session,
                tenant_id=tenant_id,
                kind=LOAD,
                params={"trigger": "schedule"},
                dedupe_key=f"{LOAD}:schedule:{timestamp}",
            )
    return len(tenants)
