"""The import job: `imports.run` with `{"import_id"}` (queued by `core.imports.service.create`)."""

from __future__ import annotations

from typing import Any

from core.imports import service
from core.jobs.registry import JobContext, JobSuperseded, handler

MAX_ATTEMPTS = 3


@handler(service.JOB_KIND, max_attempts=MAX_ATTEMPTS, backoff_seconds=5.0)
def run_import(ctx: JobContext) -> dict[str, Any]:
    """Import the stored file, resuming after the last committed batch; after the last failed attempt the
    import is marked failed and its file deleted."""
    try:
        return service.run(ctx)
    except JobSuperseded:
        raise
    except Exception as exc:
        if ctx.attempt >= MAX_ATTEMPTS:
            service.give_up(ctx, f"The import stopped: {type(exc).__name__}: {exc}"[:2000])
        raise
