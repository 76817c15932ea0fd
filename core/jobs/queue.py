"""The durable queue (procrastinate on our PostgreSQL), the job runner, the outbox dispatcher and the worker.

Everything procrastinate-specific lives here. How a job survives a crash:

* `defer` writes the queue entry in the caller's transaction (with the Job row), so nothing is queued for a
  rolled-back change and nothing committed is lost.
* The runner (`run_job`) marks the Job running and bumps `attempts` before calling the handler; handlers write
  a checkpoint in the same transaction as each batch of effects (`JobContext.save`), so a re-run resumes after
  the last committed batch. Writes of an attempt that was superseded are fenced off by `attempts`.
* A worker killed outright stops sending heartbeats; `core.jobs.retry_stalled` (periodic, in every worker)
  puts the jobs of workers silent for `worker_stalled_seconds` back in the queue, each run as a fresh queue
  entry (the stalled one is retired), so a worker presumed dead that finishes late touches only its own.
* Each attempt runs as whoever queued the job (their current role, narrowed to the API key it was queued
  with); a creator or key that can no longer act fails the job instead of running it as the system.
* A failed attempt is recorded (status `retrying` or `failed`) and procrastinate retries it with exponential
  backoff until the handler's `max_attempts`.

The App is built on first use (`get_app()`), so importing this module opens no connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sys
import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from uuid import UUID

import procrastinate
from procrastinate import RetryStrategy
from procrastinate.jobs import Job as QueueJob
from procrastinate.retry import RetryDecision
from procrastinate.worker import Worker
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from core.actor import Actor
from core.config import get_settings
from core.db import RequestContext, app_engine, app_url, bind_tenant, libpq_dsn, reset_context, set_context
from core.db import unit_of_work as _unit_of_work
from core.errors import AuthenticationFailed, DomainError
from core.events.service import DISPATCH_TASK
from core.jobs import registry
from core.jobs.models import Job
from core.jobs.registry import HandlerSpec, JobContext, JobSuperseded

logger = logging.getLogger(__name__)

QUEUE = "default"
RUN_TASK = "core.jobs.run"
RETRY_STALLED_TASK = "core.jobs.retry_stalled"
SWEEP_TASK = "core.events.sweep"
PERIODIC_TASKS = (RETRY_STALLED_TASK, SWEEP_TASK)
SWEEP_EVERY_SECONDS = 10
FETCH_POLL_SECONDS = 2.0
THREAD_ENV = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
# A kind no handler is registered for (in this worker) is retried like a default handler's failure.
_UNKNOWN_KIND = HandlerSpec("", lambda ctx: None, max_attempts=5, backoff_seconds=2.0)


# Deferring, in the caller's transaction -----------------------------------------------------------------

_DEFER = text(
    "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, 0, CAST(NULL AS text),"
    " CAST(NULL AS text), CAST(:args AS jsonb), CAST(:scheduled_at AS timestamptz))"
    "::procrastinate_job_to_defer_v1])) AS id"
)
_CANCEL = text("SELECT procrastinate_cancel_job_v1(:id, false, false)")


def defer(session: Session, *, job_id: UUID, tenant_id: UUID, run_at: datetime | None = None) -> int:
    """Queue one run of Job `job_id` on the caller's session (same transaction); returns the queue id."""
    args = json.dumps({"job_id": str(job_id), "tenant_id": str(tenant_id)})
    return int(
        session.execute(_DEFER, {"queue": QUEUE, "task": RUN_TASK, "args": args, "scheduled_at": run_at}).scalar_one()
    )


def cancel_deferred(session: Session, queue_job_id: int) -> bool:
    """Withdraw a queue entry that no worker has fetched yet (same transaction as the caller's)."""
    return session.execute(_CANCEL, {"id": queue_job_id}).scalar_one() is not None


# The runner ---------------------------------------------------------------------------------------------


class AttemptFailed(Exception):  # noqa: N818 - carries the retry decision to procrastinate
    """A handler attempt failed and was recorded; `retry_in` is None when it was the last attempt."""

    def __init__(self, message: str, retry_in: float | None) -> None:
        super().__init__(message)
        self.retry_in = retry_in


class _RunRetry(RetryStrategy):
    """Handler failures retry as their registration says (recorded on the Job row before re-raising);
    anything else (database unavailable, ...) falls back to procrastinate's own exponential backoff."""

    def get_retry_decision(self, *, exception: BaseException, job: QueueJob) -> RetryDecision | None:
        if isinstance(exception, AttemptFailed):
            if exception.retry_in is None:
                return None
            return RetryDecision(retry_at=_now() + timedelta(seconds=exception.retry_in))
        return super().get_retry_decision(exception=exception, job=job)


def _now() -> datetime:
    return datetime.now(UTC)


def _error_message(exc: BaseException) -> str:
    """What a user may read: the message, never a traceback."""
    if isinstance(exc, DomainError):
        message = exc.message
    else:
        lines = str(exc).strip().splitlines()
        message = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return message[:1000]


def _json_result(result: Any) -> dict[str, Any] | None:
    if result is None:
        return None
    if not isinstance(result, dict):
        result = {"value": result}
    return json.loads(json.dumps(result, default=str))


class JobActorGone(Exception):  # noqa: N818 - a state of the job, reported on it
    """Whoever queued the job can no longer act (user deactivated or deleted, API key revoked or expired)."""


def _actor_for(session: Session, job: Job) -> Actor:
    """Who the job runs as, reloaded for every attempt: the creator with their current role, narrowed to the
    API key's permissions when queued through a key. Only the platform's own jobs (no creator, no key) run as
    the system; a creator or key that can no longer act fails the job rather than run it with more rights."""
    from core.auth.models import ApiKey
    from core.auth.service import api_key_actor, load_actor

    if job.created_by is None and job.api_key_id is None:
        bind_tenant(session, job.tenant_id)
        return Actor.system(job.tenant_id)
    try:
        if job.api_key_id is not None:
            key = session.scalar(select(ApiKey).where(ApiKey.tenant_id == job.tenant_id, ApiKey.id == job.api_key_id))
            if key is None or key.user_id != job.created_by:
                raise JobActorGone("The API key that queued this job no longer exists; the job did not run")
            return api_key_actor(session, key)
        assert job.created_by is not None
        return load_actor(session, tenant_id=job.tenant_id, user_id=job.created_by)
    except AuthenticationFailed as exc:
        if exc.code == "INVALID_API_KEY":
            reason = "The API key that queued this job was revoked or has expired"
        elif job.api_key_id is not None:
            reason = "The user whose API key queued this job is no longer active"
        else:
            reason = "The user who queued this job is no longer active"
        raise JobActorGone(f"{reason}; the job did not run") from exc


def _start_attempt(job_id: UUID, tenant_id: UUID) -> tuple[JobContext, HandlerSpec] | None:
    """Mark the job running for a new attempt; None when there is nothing to run."""
    with _unit_of_work(Actor.system(tenant_id)) as session:
        job = session.scalar(select(Job).where(Job.id == job_id, Job.tenant_id == tenant_id).with_for_update())
        if job is None:
            logger.info("job %s: no longer exists; skipped", job_id)
            return None
        if job.status in TERMINAL:
            logger.info("job %s: already %s; skipped", job_id, job.status)
            return None
        spec = registry.get_handler(job.kind) or _UNKNOWN_KIND
        if job.status == "running" and job.attempts >= spec.max_attempts:
            # The last allowed attempt ended with its worker gone (killed, out of memory): give up rather
            # than take more workers down.
            job.status, job.finished_at = "failed", _now()
            job.error = f"The worker stopped during the last attempt ({job.attempts} of {spec.max_attempts})"
            return None
        try:
            actor = _actor_for(session, job)
        except JobActorGone as exc:
            logger.warning("job %s: %s", job_id, exc)
            job.status, job.finished_at, job.error = "failed", _now(), str(exc)
            return None
        job.status = "running"
        job.attempts += 1
        job.started_at = _now()
        job.finished_at = None
        session.flush()
        ctx = JobContext(
            job_id=job.id,
            tenant_id=tenant_id,
            kind=job.kind,
            params=dict(job.params or {}),
            attempt=job.attempts,
            checkpoint=job.checkpoint,
            actor=actor,
        )
        return ctx, spec


def _finish(ctx: JobContext, **values: Any) -> bool:
    """Write the attempt's outcome unless a newer attempt owns the job."""
    with _unit_of_work(Actor.system(ctx.tenant_id)) as session:
        result = session.execute(
            update(Job)
            .where(
                Job.id == ctx.job_id,
                Job.tenant_id == ctx.tenant_id,
                Job.attempts == ctx.attempt,
                Job.status == "running",
            )
            .values(**values)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def run_job(job_id: str, tenant_id: str) -> None:
    """The procrastinate task `core.jobs.run`: one attempt of one Job."""
    token = set_context(RequestContext(request_id=f"job-{job_id}", via="worker"))
    try:
        started = _start_attempt(UUID(job_id), UUID(tenant_id))
        if started is None:
            return
        ctx, spec = started
        try:
            if spec is _UNKNOWN_KIND:
                raise LookupError(f"No handler is registered for job kind '{ctx.kind}' in this worker")
            result = spec.fn(ctx)
        except JobSuperseded:
            logger.warning("job %s attempt %s: superseded by a newer attempt; stopped", job_id, ctx.attempt)
            return
        except Exception as exc:
            retry_in = spec.retry_in(ctx.attempt)
            message = _error_message(exc)
            final = retry_in is None
            logger.warning(
                "job %s (%s) attempt %s failed%s: %s",
                job_id,
                ctx.kind,
                ctx.attempt,
                "" if final else f", retrying in {retry_in:.1f}s",
                message,
                exc_info=exc,
            )
            if not _finish(
                ctx,
                status="failed" if final else "retrying",
                error=message,
                finished_at=_now() if final else None,
            ):
                return
            raise AttemptFailed(message, retry_in) from exc
        _finish(ctx, status="succeeded", result=_json_result(result), progress=100, error=None, finished_at=_now())
    finally:
        reset_context(token)


# The outbox dispatcher ----------------------------------------------------------------------------------

# The payload comes as text: most events start no job (no subscriber wants them), and only those that do
# pay for decoding it (an import's 100,000 events would otherwise parse 100 MB of JSON for nothing).
_CLAIM = text("SELECT id, tenant_id, type, entity_type, entity_id, payload::text AS payload FROM cf_claim_events(:n)")


def dispatch_events(batch_size: int = 500) -> int:
    """Claim pending events of every tenant and start one job per subscriber, until none is left.

    Claim and jobs commit together (or not at all); the jobs' dedupe keys make a repeated delivery harmless.
    Returns the number of events dispatched.
    """
    from core.events.service import debounce_window, interested, subscribers
    from core.jobs import service

    registry.load_handler_modules()
    total = 0
    while True:
        with _unit_of_work() as session:
            rows = session.execute(_CLAIM, {"n": batch_size}).all()
            wanted: dict[tuple[UUID, str, str], bool] = {}  # asked once per tenant, type and kind in a batch
            bound: UUID | None = None
            for row in rows:
                for kind in subscribers(row.type):
                    if row.tenant_id != bound:
                        bind_tenant(session, row.tenant_id)  # a statement: only when the tenant changes
                        bound = row.tenant_id
                    key = (row.tenant_id, row.type, kind)
                    if key not in wanted:
                        wanted[key] = interested(session, row.tenant_id, row.type, kind)
                    if not wanted[key]:
                        continue
                    window = debounce_window(kind)
                    if window is not None:
                        wanted[key] = False  # one debounced job per tenant, type and kind is enough
                        service.debounce(session, tenant_id=row.tenant_id, kind=kind, window_seconds=window)
                        continue
                    service.react(
                        session,
                        tenant_id=row.tenant_id,
                        kind=kind,
                        event_id=row.id,
                        event_type=row.type,
                        entity_type=row.entity_type,
                        entity_id=row.entity_id,
                        payload=json.loads(row.payload) if row.payload else None,
                    )
        total += len(rows)
        if len(rows) < batch_size:
            return total


def dispatch() -> None:
    """The task emit() queues (`core.events.dispatch`)."""
    token = set_context(RequestContext(request_id="events-dispatch", via="worker"))
    try:
        dispatch_events()
    finally:
        reset_context(token)


def sweep(timestamp: int) -> None:
    """Periodic safety net: events committed while a dispatch was already running."""
    dispatch()


_RETIRE = text(
    "UPDATE procrastinate_jobs SET status = 'failed', attempts = attempts + 1"
    " WHERE id = :id AND status = 'doing' RETURNING id"
)


def _requeue_run(queue_job_id: int, job_id: UUID, tenant_id: UUID) -> int | None:
    """Give a stalled run of Job `job_id` a fresh queue entry and retire the stalled one (marked failed).

    The stalled worker may be alive after all (a long pause, a partition). Its attempt is fenced off the Job
    by `attempts`, and when it ends, procrastinate finishes *its own* entry: were the stalled entry requeued
    in place, that would finish (delete) the entry of the newer attempt. Returns the new queue id, or None
    when there is nothing to requeue (entry finished meanwhile, Job gone or finished).
    """
    with _unit_of_work(Actor.system(tenant_id)) as session:
        # The Job first, then the queue entry: the order `cancel` locks them in.
        job = session.scalar(select(Job).where(Job.id == job_id, Job.tenant_id == tenant_id).with_for_update())
        if session.execute(_RETIRE, {"id": queue_job_id}).scalar_one_or_none() is None:
            return None  # no longer running: finished, or another sweeper requeued it
        if job is None or job.status in TERMINAL:
            return None
        new_queue_id = defer(session, job_id=job.id, tenant_id=tenant_id)
        job.queue_job_id = new_queue_id
        return new_queue_id


async def retry_stalled(timestamp: int) -> int:
    """Periodic: put back in the queue the jobs of workers whose heartbeat stopped (killed, lost).

    A Job run gets a fresh queue entry (`_requeue_run`); the platform's own idempotent tasks (dispatch,
    sweeps) are retried in place: a late finish by their old worker costs at most one wake-up, which the
    periodic sweep makes up for.
    """
    seconds = get_settings().worker_stalled_seconds
    manager = get_app().job_manager
    stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=seconds))
    for job in stalled:
        logger.warning(
            "queue job %s (%s %s) of stalled worker %s: requeued",
            job.id,
            job.task_name,
            job.task_kwargs,
            job.worker_id,
        )
        if job.task_name == RUN_TASK and job.id is not None:
            kwargs = job.task_kwargs
            job_id, tenant_id = UUID(str(kwargs["job_id"])), UUID(str(kwargs["tenant_id"]))
            await asyncio.to_thread(_requeue_run, job.id, job_id, tenant_id)
        else:
            await manager.retry_job(job)
    return len(stalled)


# The app and the worker ---------------------------------------------------------------------------------


def _every(seconds: int) -> str:
    """A cron for "every `seconds`": seconds under a minute, else whole minutes (under an hour)."""
    if seconds < 60:
        return f"* * * * * */{max(1, seconds)}"
    return f"*/{max(1, min(59, seconds // 60))} * * * *"


@lru_cache
def get_app() -> procrastinate.App:
    """The procrastinate App on the app role's connection (built once, connects when opened)."""
    settings = get_settings()
    connector = procrastinate.PsycopgConnector(
        conninfo=libpq_dsn(app_url()),
        min_size=1,
        max_size=max(settings.worker_concurrency, 2) + 4,
        kwargs={"application_name": "clientforge-worker"},
    )
    app = procrastinate.App(connector=connector)
    app.task(name=RUN_TASK, queue=QUEUE, retry=_RunRetry(max_attempts=10, exponential_wait=2))(run_job)
    app.task(name=DISPATCH_TASK, queue=QUEUE, retry=RetryStrategy(max_attempts=8, exponential_wait=2))(dispatch)
    sweep_task = app.task(name=SWEEP_TASK, queue=QUEUE)(sweep)
    app.periodic(cron=_every(SWEEP_EVERY_SECONDS))(sweep_task)
    stalled_task = app.task(name=RETRY_STALLED_TASK, queue=QUEUE)(retry_stalled)
    # Look for stalled workers several times per stall window, at most every 5 s.
    app.periodic(cron=_every(min(5, int(settings.worker_stalled_seconds // 2))))(stalled_task)
    registry.load_handler_modules()
    for spec in registry.periodic_specs():
        task = app.task(name=spec.name, queue=QUEUE)(_periodic_runner(spec))
        app.periodic(cron=_every(spec.every_seconds()))(task)
    return app


def _periodic_runner(spec: registry.PeriodicSpec) -> Any:
    def run(timestamp: int) -> Any:
        token = set_context(RequestContext(request_id=f"periodic-{spec.name}", via="worker"))
        try:
            return spec.fn(timestamp)
        finally:
            reset_context(token)

    run.__name__ = run.__qualname__ = spec.name.replace(".", "_")
    return run


def _worker_options(concurrency: int | None) -> dict[str, Any]:
    settings = get_settings()
    return {
        "queues": [QUEUE],
        "concurrency": concurrency or settings.worker_concurrency,
        "update_heartbeat_interval": settings.worker_heartbeat_seconds,
        "stalled_worker_timeout": settings.worker_stalled_seconds,
        "fetch_job_polling_interval": FETCH_POLL_SECONDS,
        # The Job row is the record; a succeeded queue entry has nothing left to say.
        "delete_jobs": "successful",
    }


def _limit_threads() -> None:
    """One BLAS/OpenMP/torch thread per worker process (AI.md): parallelism comes from processes."""
    for name in THREAD_ENV:
        os.environ.setdefault(name, "1")
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def run_worker(concurrency: int | None = None) -> None:
    """Run a worker until SIGINT/SIGTERM (then finish running jobs and stop). Blocking."""
    _limit_threads()
    settings = get_settings()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if settings.log_level.upper() != "DEBUG":
        # procrastinate logs every periodic deferral and job start at INFO; our runner logs what matters.
        logging.getLogger("procrastinate").setLevel(logging.WARNING)
    registry.load_handler_modules()
    name = f"worker-{socket.gethostname()}-{os.getpid()}"
    get_app().run_worker(name=name, install_signal_handlers=True, **_worker_options(concurrency))


class _DrainWorker(Worker):
    """A worker that runs what is queued and schedules no periodic work of its own."""

    async def _periodic_deferrer(self) -> None:
        return None


_PENDING = text(
    "SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo' AND queue_name = :queue"
    " AND NOT (task_name = ANY(:periodic))"
    " AND (scheduled_at IS NULL OR scheduled_at <= now() + make_interval(secs => :within))"
)


def _periodic_names() -> list[str]:
    return [*PERIODIC_TASKS, *(spec.name for spec in registry.periodic_specs())]


def _pending(within: float) -> int:
    with app_engine().connect() as conn:
        return int(
            conn.execute(
                _PENDING, {"queue": QUEUE, "periodic": _periodic_names(), "within": max(within, 0.0)}
            ).scalar_one()
        )


def drain(max_seconds: float = 30.0, *, concurrency: int = 1) -> int:
    """Run the queue in this process until no job is due before the deadline (tests, CLI one-shots).

    Retries whose backoff ends before the deadline are waited for; jobs scheduled later stay queued.
    Returns the number of jobs still due when the deadline passed (0 when drained).
    """
    registry.load_handler_modules()
    deadline = time.monotonic() + max_seconds

    async def run() -> int:
        app = get_app()
        app.perform_import_paths()
        options = {
            **_worker_options(concurrency),
            "wait": False,
            "listen_notify": False,
            "install_signal_handlers": False,
            "name": f"drain-{os.getpid()}",
        }
        async with app.open_async():
            while True:
                await _DrainWorker(app=app, **options).run()
                remaining = deadline - time.monotonic()
                pending = await asyncio.to_thread(_pending, remaining)
                if pending == 0 or remaining <= 0:
                    return pending
                await asyncio.sleep(min(0.1, remaining))

    return asyncio.run(run())
