"""Anomaly detection in the worker.

- `anomalies.refresh`: a full pass of the detectors (ai/insights/anomalies.py) for one workspace: new anomalies
  open, known ones updated (dismissed ones stay dismissed), ones no longer found resolved. Queued nightly for every
  workspace, on demand (POST /api/v1/insights/anomalies/refresh) and after changes.
- `anomalies.changes`: after record changes (deals, activities, accounts), one pass per tenant and debounce window
  (DEBOUNCE_SECONDS), so an import or a busy afternoon costs one pass; the detectors are a few aggregate queries.
- `anomalies.nightly` (hourly check): queues one `anomalies.refresh` per workspace and UTC day.
"""

from __future__ import annotations

from typing import Any

from ai.insights import anomalies
from core.actor import Actor
from core.db import unit_of_work
from core.events.service import subscribe
from core.insights import service as insights
from core.jobs import service as jobs
from core.jobs.registry import JobContext, handler, periodic

REFRESH = insights.REFRESH_JOB
CHANGES = "anomalies.changes"
NIGHTLY = "anomalies.nightly"
DEBOUNCE_SECONDS = 60
WATCHED = ("deal.", "activity.", "account.")


def _pass(ctx: JobContext) -> dict[str, Any]:
    system = Actor.system(ctx.tenant_id)
    with unit_of_work(system) as session:
        result = anomalies.refresh(session, system)
        ctx.save(session, progress=100, message=f"{result['found']:,} anomalies ({result['new']:,} new)")
    return result


@handler(REFRESH, max_attempts=2, backoff_seconds=60.0)
def refresh(ctx: JobContext) -> dict[str, Any]:
    return _pass(ctx)


@handler(CHANGES, max_attempts=3, backoff_seconds=10.0)
def changes(ctx: JobContext) -> dict[str, Any]:
    return _pass(ctx)


def _interested(session: Any, tenant_id: Any, event_type: str) -> bool:
    return event_type.startswith(WATCHED)


def subscribe_changes() -> None:
    """One pass per tenant and debounce window after record changes. On at import."""
    subscribe("*", CHANGES, when=_interested, debounce_seconds=lambda: DEBOUNCE_SECONDS)


subscribe_changes()


@periodic(NIGHTLY, every_seconds=lambda: 3600)
def nightly(timestamp: int) -> int:
    """Queue one full pass per active workspace and UTC day (deduplicated: the hourly checks add nothing more)."""
    return jobs.enqueue_daily(REFRESH, timestamp, {"trigger": "nightly"})
