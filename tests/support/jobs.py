"""Test-only job handlers (CLIENTFORGE_JOB_MODULES=tests.support.jobs loads them into a worker process)."""

from __future__ import annotations

import time
from typing import Any

from core.events.service import subscribe
from core.jobs.registry import JobContext, handler
from core.users import service as users
from core.users.schemas import TeamCreate

PINGED = "test.pinged"


@handler("test.count_teams", max_attempts=5, backoff_seconds=0.2)
def count_teams(ctx: JobContext) -> dict[str, Any]:
    """Create teams job-team-0..n-1, one per transaction, each with its checkpoint in the same transaction:
    a run killed at any instant resumes after the last committed team, so every team exists exactly once."""
    n = int(ctx.params["n"])
    pause = float(ctx.params.get("sleep", 0))
    start = int((ctx.checkpoint or {}).get("next", 0))
    for i in range(start, n):
        with ctx.unit_of_work() as session:
            users.create_team(session, ctx.actor, TeamCreate(name=f"job-team-{i}"))
            ctx.save(session, checkpoint={"next": i + 1}, progress=100 * (i + 1) // n, message=f"{i + 1}/{n} teams")
        if pause:
            time.sleep(pause)
    return {"teams": n, "resumed_at": start}


@handler("test.flaky", max_attempts=3, backoff_seconds=0.3)
def flaky(ctx: JobContext) -> dict[str, Any]:
    """Fails its first `fail_times` attempts, then succeeds."""
    if ctx.attempt <= int(ctx.params.get("fail_times", 1)):
        raise RuntimeError(f"flaky failure on attempt {ctx.attempt}")
    return {"attempt": ctx.attempt}


@handler("test.echo")
def echo(ctx: JobContext) -> dict[str, Any]:
    """Returns what it was given and who it ran as."""
    ctx.progress(50, "echoing")
    return {
        "params": ctx.params,
        "user_id": ctx.actor.user_id,
        "role": ctx.actor.role,
        "attempt": ctx.attempt,
    }


subscribe(PINGED, "test.echo")
