"""Next best actions in the worker.

- `actions.refresh`: recompute a workspace's actions (ai/insights/actions.py `refresh`): after any change, once per
  debounce window (`DEBOUNCE_SECONDS`: an import or a burst of edits is one pass), so a deal that stops rotting or a
  lead that was called loses its action within seconds; with `remeasure`, the uplifts are measured again first.
- `actions.nightly` (daily): queues a refresh with a new measurement of the uplifts for every workspace.

Threads: this work is SQL and plain Python (no BLAS, no torch): nothing to pin.
"""

from __future__ import annotations

from typing import Any

from ai.insights import actions
from core.actor import Actor
from core.db import unit_of_work
from core.events.service import subscribe
from core.jobs import service as jobs
from core.jobs.registry import JobContext, handler, periodic

REFRESH = "actions.refresh"
NIGHTLY = "actions.nightly"
DEBOUNCE_SECONDS = 10
DAY_SECONDS = 86_400


@handler(REFRESH, max_attempts=3, backoff_seconds=10.0)
def refresh(ctx: JobContext) -> dict[str, Any]:
    system = Actor.system(ctx.tenant_id)
    with unit_of_work(system) as session:
        return actions.refresh(session, system, remeasure=bool(ctx.params.get("remeasure", False)))


# The records whose changes can start or end an action (a deal, its tasks and activities, contacts, scores).
WATCHED = ("deal.", "task.", "activity.", "contact.", "account.")


def _interested(session: Any, tenant_id: Any, event_type: str) -> bool:
    return event_type.startswith(WATCHED)


def subscribe_changes() -> None:
    """A refresh after a change that can start or end an action (one per tenant and debounce window). On at
    import."""
    subscribe("*", REFRESH, when=_interested, debounce_seconds=lambda: DEBOUNCE_SECONDS)


subscribe_changes()


@periodic(NIGHTLY, every_seconds=lambda: DAY_SECONDS)
def nightly(timestamp: int) -> int:
    """Queue every active workspace's refresh with a new measurement (once per day and workspace)."""
    return jobs.enqueue_daily(REFRESH, timestamp, {"trigger": "nightly", "remeasure": True})
