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

LOAD = pipeline.LOAD_JOB
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


def subscribe_loads() -> None:
    """A load soon after any change (one per tenant and debounce window). On at import."""
    subscribe("*", LOAD, debounce_seconds=lambda: get_settings().etl_debounce_seconds)


subscribe_loads()


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


# Scheduled reports: every minute, claim the schedules that are due (cf_claim_due_report_schedules pushes their
# next run 15 minutes out, so two workers never take the same one) and queue one send per schedule and due time.

SEND_REPORT = "reports.send_scheduled"
REPORT_SCHEDULES = "reports.schedules"
CLAIM_LIMIT = 500


@handler(SEND_REPORT, max_attempts=3, backoff_seconds=20.0)
def send_scheduled_report(ctx: JobContext) -> dict[str, Any]:
    """Run a schedule's report as its creator and mail it (etl/reports/mail.py)."""
    from etl.reports import mail

    return mail.send_scheduled(ctx)


@periodic(REPORT_SCHEDULES, every_seconds=lambda: 60)
def report_schedules(timestamp: int) -> int:
    """Queue the sends of every due report schedule (one job per schedule and due time)."""
    with unit_of_work() as session:
        due = session.execute(
            text("SELECT id, tenant_id, due_at FROM cf_claim_due_report_schedules(:n)"), {"n": CLAIM_LIMIT}
        ).all()
    by_tenant: dict[Any, list[Any]] = {}
    for row in due:
        by_tenant.setdefault(row.tenant_id, []).append(row)
    for tenant_id, rows in by_tenant.items():
        with unit_of_work(tenant_id=tenant_id) as session:
            for row in rows:
                jobs.enqueue_system(
                    session,
                    tenant_id=tenant_id,
                    kind=SEND_REPORT,
                    params={"schedule_id": str(row.id), "due_at": row.due_at.isoformat()},
                    dedupe_key=f"{SEND_REPORT}:{row.id}:{row.due_at.isoformat()}",
                )
    return len(due)
