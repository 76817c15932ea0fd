"""The durable job queue, the runner and the outbox dispatcher, on the real PostgreSQL with real workers."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from procrastinate.jobs import Status as QueueStatus
from sqlalchemy import text

from core.actor import Actor
from core.auth import service as auth
from core.db import unit_of_work
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.events import service as events
from core.events.service import DISPATCH_TASK
from core.jobs import queue, registry
from core.jobs import service as jobs
from core.jobs.models import Job
from core.jobs.registry import JobContext, JobSuperseded, handler
from core.jobs.schemas import JobRead
from core.users import service as users
from tests.core.conftest import WorkerProcess, owner_execute, owner_rows
from tests.factories import TenantWorld
from tests.support.jobs import PINGED


@handler("test.whoami")
def whoami(ctx: JobContext) -> dict:
    """Who the attempt runs as (in this process only: for drain())."""
    actor = ctx.actor
    return {
        "user_id": actor.user_id,
        "api_key_id": actor.api_key_id,
        "is_system": actor.is_system,
        "permissions": sorted(actor.permissions),
    }


def _enqueue(actor: Actor, kind: str, params: dict | None = None, **kwargs) -> Job:
    with unit_of_work(actor) as session:
        return jobs.enqueue(session, actor, kind, params, **kwargs)


def _job(world: TenantWorld, job_id: UUID) -> Job:
    system = Actor.system(world.tenant_id)
    with unit_of_work(system) as session:
        return jobs.get(session, system, job_id)


def _queue_row(queue_job_id: int):
    rows = owner_rows(
        "SELECT status, task_name, args, scheduled_at FROM procrastinate_jobs WHERE id = :id", id=queue_job_id
    )
    return rows[0] if rows else None


def _wait_until(predicate: Callable[[], bool], timeout: float, *workers: WorkerProcess) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    logs = "\n".join(w.log_tail() for w in workers)
    raise AssertionError(f"condition not met within {timeout}s\n{logs}")


# Enqueue ------------------------------------------------------------------------------------------------


def test_enqueue_commits_with_the_caller_and_a_rollback_leaves_no_job_and_no_queue_entry(tenant):
    admin = tenant.admin
    with pytest.raises(RuntimeError), unit_of_work(admin) as session:
        job = jobs.enqueue(session, admin, "test.echo", {"x": 1})
        lost_id, lost_queue_id = job.id, job.queue_job_id
        assert lost_queue_id is not None
        raise RuntimeError("the caller's change fails after enqueueing")
    assert owner_rows("SELECT id FROM jobs WHERE id = :id", id=lost_id) == []
    assert (
        owner_rows(
            "SELECT id FROM procrastinate_jobs WHERE id = :q OR args->>'job_id' = :id",
            q=lost_queue_id,
            id=str(lost_id),
        )
        == []
    )

    job = _enqueue(admin, "test.echo", {"x": 1})
    assert (job.status, job.attempts, job.progress, job.created_by) == ("queued", 0, 0, admin.user_id)
    row = _queue_row(job.queue_job_id)
    assert (row.status, row.task_name) == ("todo", queue.RUN_TASK)
    assert row.args == {"job_id": str(job.id), "tenant_id": str(tenant.tenant_id)}


def test_unknown_kind_and_naive_run_at_are_refused(tenant):
    admin = tenant.admin
    with pytest.raises(ValidationFailed, match="Unknown job kind"):
        _enqueue(admin, "no.such.kind")
    with pytest.raises(ValidationFailed, match="timezone"):
        _enqueue(admin, "test.echo", run_at=datetime.now() + timedelta(minutes=1))  # noqa: DTZ005


def test_a_dedupe_key_makes_enqueue_idempotent_per_tenant(tenant, other_tenant):
    admin = tenant.admin
    first = _enqueue(admin, "test.echo", {"n": 1}, dedupe_key="nightly:2026-11-26")
    again = _enqueue(admin, "test.echo", {"n": 2}, dedupe_key="nightly:2026-11-26")
    assert again.id == first.id and again.params == {"n": 1}
    queued = owner_rows("SELECT id FROM procrastinate_jobs WHERE args->>'job_id' = :id", id=str(first.id))
    assert len(queued) == 1
    elsewhere = _enqueue(other_tenant.admin, "test.echo", dedupe_key="nightly:2026-11-26")
    assert elsewhere.id != first.id


# Running ------------------------------------------------------------------------------------------------


def test_a_job_runs_once_and_reports_status_progress_and_result(tenant):
    admin = tenant.admin
    job = _enqueue(admin, "test.count_teams", {"n": 3})
    assert queue.drain(20) == 0
    done = _job(tenant, job.id)
    assert (done.status, done.progress, done.attempts, done.error) == ("succeeded", 100, 1, None)
    assert done.result == {"teams": 3, "resumed_at": 0}
    assert done.message == "3/3 teams" and done.checkpoint == {"next": 3}
    assert done.started_at is not None and done.finished_at is not None
    assert done.started_at <= done.finished_at
    names = owner_rows("SELECT name FROM teams WHERE tenant_id = :t ORDER BY name", t=tenant.tenant_id)
    assert [r.name for r in names] == ["job-team-0", "job-team-1", "job-team-2"]
    wire = JobRead.model_validate(done).model_dump(by_alias=True)
    assert wire["status"] == "succeeded" and wire["finishedAt"] is not None and "params" not in wire


def test_the_handler_runs_as_its_creator_and_only_the_platforms_own_jobs_as_the_system(tenant):
    admin = tenant.admin
    by_user = _enqueue(admin, "test.echo", {"hello": "world"})
    system = Actor.system(tenant.tenant_id)
    by_system = _enqueue(system, "test.echo")
    assert (by_system.created_by, by_system.api_key_id) == (None, None)
    queue.drain(20)
    user_result = _job(tenant, by_user.id).result
    assert user_result["params"] == {"hello": "world"}
    assert (user_result["user_id"], user_result["role"]) == (str(admin.user_id), "admin")
    system_result = _job(tenant, by_system.id).result
    assert (system_result["user_id"], system_result["role"]) == (None, "system")


def _api_key_actor(world: TenantWorld, permissions: list[str]) -> tuple[Actor, UUID]:
    admin = world.admin
    with unit_of_work(admin) as session:
        key, full = auth.create_api_key(session, admin, name="jobs", permissions=permissions)
    with unit_of_work() as session:
        return auth.authenticate(session, full), key.id


def test_a_job_queued_through_an_api_key_runs_with_the_keys_permissions_only(tenant):
    key_actor, key_id = _api_key_actor(tenant, ["contacts:read", "jobs:read"])
    job = _enqueue(key_actor, "test.whoami")
    assert (job.created_by, job.api_key_id) == (tenant.admin_id, key_id)
    assert queue.drain(20) == 0
    done = _job(tenant, job.id)
    assert done.status == "succeeded", done.error
    assert done.result == {
        "user_id": str(tenant.admin_id),
        "api_key_id": str(key_id),
        "is_system": False,
        "permissions": ["contacts:read", "jobs:read"],  # not the admin's whole role
    }


def test_a_job_whose_creator_or_key_can_no_longer_act_fails_instead_of_running_as_the_system(tenant):
    admin = tenant.admin
    rep_id = tenant.add_user("rep")
    by_rep = _enqueue(tenant.actor(rep_id), "test.whoami")
    revoked_actor, revoked_id = _api_key_actor(tenant, ["jobs:read"])
    by_revoked_key = _enqueue(revoked_actor, "test.whoami")
    expired_actor, expired_id = _api_key_actor(tenant, ["jobs:read"])
    by_expired_key = _enqueue(expired_actor, "test.whoami")
    with unit_of_work(admin) as session:
        users.deactivate(session, admin, rep_id)
        auth.revoke_api_key(session, admin, revoked_id)
    owner_execute("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = :k", k=expired_id)

    assert queue.drain(20) == 0
    expected = {
        by_rep.id: "The user who queued this job is no longer active; the job did not run",
        by_revoked_key.id: "The API key that queued this job was revoked or has expired; the job did not run",
        by_expired_key.id: "The API key that queued this job was revoked or has expired; the job did not run",
    }
    for job_id, error in expected.items():
        failed = _job(tenant, job_id)
        assert (failed.status, failed.error, failed.result, failed.attempts) == ("failed", error, None, 0)
        assert failed.finished_at is not None


def test_a_failing_job_is_retried_with_backoff_then_succeeds(tenant):
    spec = registry.get_handler("test.flaky")
    assert [spec.retry_in(a) for a in (1, 2, 3)] == [0.3, 0.6, None]
    job = _enqueue(tenant.admin, "test.flaky", {"fail_times": 2})
    queue.drain(0)  # one pass: the first attempt fails and is scheduled again
    first = _job(tenant, job.id)
    assert (first.status, first.attempts) == ("retrying", 1)
    assert first.error == "RuntimeError: flaky failure on attempt 1"
    scheduled = _queue_row(job.queue_job_id).scheduled_at
    assert scheduled is not None and scheduled > first.updated_at
    assert queue.drain(20) == 0
    done = _job(tenant, job.id)
    assert (done.status, done.attempts, done.error, done.result) == ("succeeded", 3, None, {"attempt": 3})
    # Two waits (0.3 s, then 0.6 s) separate the first attempt from the third.
    assert (done.started_at - done.created_at).total_seconds() >= 0.85


def test_the_final_failure_is_recorded_as_failed_with_the_message_only(tenant):
    job = _enqueue(tenant.admin, "test.flaky", {"fail_times": 10})
    queue.drain(20)
    failed = _job(tenant, job.id)
    assert (failed.status, failed.attempts) == ("failed", 3)
    assert failed.error == "RuntimeError: flaky failure on attempt 3"
    assert "Traceback" not in failed.error and failed.finished_at is not None
    assert _queue_row(job.queue_job_id).status == "failed"


def test_a_delayed_job_does_not_run_before_its_time(tenant):
    admin = tenant.admin
    later = _enqueue(admin, "test.echo", run_at=datetime.now(UTC) + timedelta(hours=1))
    soon_at = datetime.now(UTC) + timedelta(seconds=1.5)
    soon = _enqueue(admin, "test.echo", run_at=soon_at)
    queue.drain(10)
    waiting = _job(tenant, later.id)
    assert (waiting.status, waiting.attempts, waiting.started_at) == ("queued", 0, None)
    row = _queue_row(later.queue_job_id)
    assert row.status == "todo" and row.scheduled_at == later.run_at
    ran = _job(tenant, soon.id)
    assert ran.status == "succeeded" and ran.started_at >= soon_at


def test_an_attempt_that_was_superseded_cannot_write(tenant):
    job = _enqueue(tenant.admin, "test.echo")
    owner_execute("UPDATE jobs SET status = 'running', attempts = 2 WHERE id = :id", id=job.id)
    stale = JobContext(
        job_id=job.id,
        tenant_id=tenant.tenant_id,
        kind="test.echo",
        params={},
        attempt=1,
        checkpoint=None,
        actor=Actor.system(tenant.tenant_id),
    )
    with pytest.raises(JobSuperseded):
        stale.progress(10, "late")
    assert _job(tenant, job.id).progress == 0


# Reading and cancelling ---------------------------------------------------------------------------------


def test_record_scope_and_tenancy_apply_to_jobs(tenant, other_tenant):
    admin = tenant.admin
    rep_a, rep_b = tenant.actor(tenant.add_user("rep")), tenant.actor(tenant.add_user("rep"))
    admins_job = _enqueue(admin, "test.echo")
    reps_job = _enqueue(rep_a, "test.echo")
    with unit_of_work(rep_b) as session:
        with pytest.raises(NotFound):
            jobs.get(session, rep_b, reps_job.id)
        assert jobs.list_jobs(session, rep_b) == ([], 0)
    with unit_of_work(rep_a) as session:
        assert jobs.get(session, rep_a, reps_job.id).id == reps_job.id
        with pytest.raises(NotFound):
            jobs.get(session, rep_a, admins_job.id)
        rows, total = jobs.list_jobs(session, rep_a)
        assert total == 1 and [r.id for r in rows] == [reps_job.id]
    with unit_of_work(admin) as session:
        assert jobs.get(session, admin, reps_job.id).created_by == rep_a.user_id
        rows, total = jobs.list_jobs(session, admin, limit=1)
        assert total == 2 and [r.id for r in rows] == [reps_job.id]
    outsider = other_tenant.admin
    with unit_of_work(outsider) as session:
        with pytest.raises(NotFound):
            jobs.get(session, outsider, admins_job.id)
        assert jobs.list_jobs(session, outsider)[1] == 0


def test_a_cancelled_job_is_skipped(tenant):
    admin = tenant.admin
    rep = tenant.actor(tenant.add_user("rep"))
    analyst = tenant.actor(tenant.add_user("analyst"))
    job = _enqueue(rep, "test.echo")
    with unit_of_work(analyst) as session, pytest.raises(PermissionDenied):
        jobs.cancel(session, analyst, job.id)  # sees every job, but neither created it nor manages jobs
    with unit_of_work(rep) as session:
        assert jobs.cancel(session, rep, job.id).status == "cancelled"
    with unit_of_work(admin) as session, pytest.raises(Conflict):
        jobs.cancel(session, admin, job.id)
    assert _queue_row(job.queue_job_id).status == "cancelled"
    queue.run_job(str(job.id), str(tenant.tenant_id))  # a worker that fetched it anyway
    queue.drain(5)
    skipped = _job(tenant, job.id)
    assert (skipped.status, skipped.attempts, skipped.result) == ("cancelled", 0, None)


def test_a_job_waiting_for_its_next_attempt_can_be_cancelled(tenant):
    job = _enqueue(tenant.admin, "test.flaky", {"fail_times": 10})
    queue.drain(0)  # the first attempt fails; the next one waits for its backoff
    assert _job(tenant, job.id).status == "retrying"
    assert _queue_row(job.queue_job_id).status == "todo"
    with unit_of_work(tenant.admin) as session:
        assert jobs.cancel(session, tenant.admin, job.id).status == "cancelled"
    assert _queue_row(job.queue_job_id).status == "cancelled"
    queue.drain(2)
    cancelled = _job(tenant, job.id)
    assert (cancelled.status, cancelled.attempts) == ("cancelled", 1)
    assert cancelled.finished_at is not None


def test_a_stalled_run_is_requeued_as_a_new_entry_which_a_late_finish_of_the_old_worker_cannot_remove(tenant):
    """The worker presumed dead may still be alive: when its superseded attempt returns, procrastinate
    finishes the entry it fetched. That must not be the entry the newer attempt waits in."""
    job = _enqueue(tenant.admin, "test.echo")
    stalled_entry = job.queue_job_id
    # Attempt 1 started on a worker that then went silent.
    owner_execute("UPDATE procrastinate_jobs SET status = 'doing', worker_id = NULL WHERE id = :q", q=stalled_entry)
    owner_execute("UPDATE jobs SET status = 'running', attempts = 1 WHERE id = :id", id=job.id)

    async def sweep_then_late_finish() -> None:
        app = queue.get_app()
        async with app.open_async():
            assert await queue.retry_stalled(0) >= 1
            with contextlib.suppress(Exception):  # the old worker finishes its attempt normally
                await app.job_manager.finish_job_by_id_async(
                    job_id=stalled_entry, status=QueueStatus.SUCCEEDED, delete_job=True
                )

    asyncio.run(sweep_then_late_finish())
    requeued = _job(tenant, job.id)
    assert requeued.queue_job_id != stalled_entry
    assert _queue_row(stalled_entry).status == "failed"
    fresh = _queue_row(requeued.queue_job_id)
    assert (fresh.status, fresh.task_name) == ("todo", queue.RUN_TASK)
    assert fresh.args == {"job_id": str(job.id), "tenant_id": str(tenant.tenant_id)}
    assert queue.drain(20) == 0
    done = _job(tenant, job.id)
    assert (done.status, done.attempts) == ("succeeded", 2)


# Periodic tasks and the outbox --------------------------------------------------------------------------


def test_the_worker_tasks_and_periodic_tasks_are_registered():
    app = queue.get_app()
    assert {queue.RUN_TASK, DISPATCH_TASK, queue.RETRY_STALLED_TASK, queue.SWEEP_TASK} <= set(app.tasks)
    periodic = {p.task.name: p.cron for p in app.periodic_registry.periodic_tasks.values()}
    assert periodic[queue.SWEEP_TASK] == "* * * * * */10"
    assert queue.RETRY_STALLED_TASK in periodic


def test_a_committed_event_reaches_its_subscriber_exactly_once_and_a_rolled_back_one_never(tenant):
    admin = tenant.admin
    with unit_of_work(admin) as session:
        event = events.emit(session, admin, PINGED, entity_type="teams", entity_id=admin.user_id, payload={"n": 1})
    with pytest.raises(RuntimeError), unit_of_work(admin) as session:
        lost = events.emit(session, admin, PINGED, payload={"n": 2})
        raise RuntimeError("the change fails")
    queue.drain(20)

    def reactions(event_id: UUID) -> list:
        return owner_rows(
            "SELECT id, status, result, dedupe_key FROM jobs WHERE tenant_id = :t"
            " AND kind = 'test.echo' AND params->>'event_id' = :e",
            t=tenant.tenant_id,
            e=str(event_id),
        )

    [reaction] = reactions(event.id)
    assert reaction.status == "succeeded" and reaction.dedupe_key == f"event:{event.id}:test.echo"
    assert reaction.result["params"] == {
        "event_id": str(event.id),
        "type": PINGED,
        "entity_type": "teams",
        "entity_id": str(admin.user_id),
        "payload": {"n": 1},
    }
    [delivered] = owner_rows("SELECT dispatched_at FROM events WHERE id = :e", e=event.id)
    assert delivered.dispatched_at is not None
    # At-least-once delivery: the same event delivered again starts no second job.
    owner_execute("UPDATE events SET dispatched_at = NULL WHERE id = :e", e=event.id)
    assert queue.dispatch_events() >= 1
    queue.drain(10)
    assert len(reactions(event.id)) == 1
    assert owner_rows("SELECT id FROM events WHERE id = :e", e=lost.id) == []
    assert reactions(lost.id) == []


def test_emitting_events_in_two_tenants_at_once_does_not_serialise_the_transactions(tenant, other_tenant):
    """The dispatcher wake-up must not make a second transaction wait for the first one's commit."""
    owner_execute("DELETE FROM procrastinate_jobs WHERE task_name = :t AND status = 'todo'", t=DISPATCH_TASK)
    first, second = tenant.admin, other_tenant.admin
    committed = threading.Event()
    failure: list[BaseException] = []

    def emit_and_commit() -> None:
        try:
            with unit_of_work(second) as session:
                session.execute(text("SET LOCAL lock_timeout = '20s'"))
                events.emit(session, second, PINGED, payload={"who": "second"})
            committed.set()
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            failure.append(exc)

    with unit_of_work(first) as session:
        events.emit(session, first, PINGED, payload={"who": "first"})
        session.flush()
        thread = threading.Thread(target=emit_and_commit)
        thread.start()
        # The first transaction is still open: the second commits anyway.
        assert committed.wait(timeout=10), "the second emit waited for the first transaction"
    thread.join(timeout=30)
    assert not failure, failure
    pending = owner_rows(
        "SELECT count(*) AS n FROM procrastinate_jobs WHERE task_name = :t AND status = 'todo'", t=DISPATCH_TASK
    )
    assert 1 <= pending[0].n <= 2  # a wake-up each at most; a duplicate is harmless
    queue.drain(20)
    for world in (tenant, other_tenant):
        reactions = owner_rows(
            "SELECT status FROM jobs WHERE tenant_id = :t AND kind = 'test.echo' AND dedupe_key LIKE 'event:%'",
            t=world.tenant_id,
        )
        assert [r.status for r in reactions] == ["succeeded"]


# The kill test ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_worker_killed_mid_job_loses_nothing_and_the_rerun_repeats_nothing(tenant, start_worker):
    admin, n = tenant.admin, 20
    job = _enqueue(admin, "test.count_teams", {"n": n, "sleep": 0.2})

    first = start_worker("first")
    _wait_until(lambda: _job(tenant, job.id).progress >= 25, 30, first)
    first.kill()
    at_kill = _job(tenant, job.id)
    assert at_kill.status == "running" and at_kill.attempts == 1
    assert 0 < at_kill.checkpoint["next"] < n

    second = start_worker("second")
    _wait_until(lambda: _job(tenant, job.id).status in ("succeeded", "failed"), 40, first, second)
    done = _job(tenant, job.id)
    assert done.status == "succeeded", done.error
    assert done.attempts >= 2 and done.progress == 100
    assert done.result["resumed_at"] >= at_kill.checkpoint["next"]
    teams = owner_rows("SELECT name FROM teams WHERE tenant_id = :t AND name LIKE 'job-team-%'", t=tenant.tenant_id)
    names = [r.name for r in teams]
    assert sorted(names) == sorted(f"job-team-{i}" for i in range(n))
