"""The warehouse load (etl/) on the real PostgreSQL: a full load equals the CRM, incremental loads follow
changes and deletes, the daily pipeline snapshot is what stage history says, readers never see a half-done
load, tenants never share a file, and the worker loads a change by itself."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from app.cli import app
from core.activities import service as activities
from core.activities.schemas import ActivityCreate, ActivityUpdate
from core.config import reset_settings
from core.contacts import service as contacts
from core.contacts.schemas import ContactCreate
from core.db import unit_of_work
from core.deals import service as deals
from core.deals.schemas import DealCreate, DealPatch
from core.demo import service as demo
from core.pipelines.models import Stage
from core.tasks import service as tasks
from core.tasks.schemas import TaskCreate
from etl import pipeline, warehouse
from tests.core.conftest import owner_execute, owner_rows
from tests.factories import PASSWORD, TenantWorld

runner = CliRunner()


@pytest.fixture(scope="module")
def loaded_demo() -> demo.SeedResult:
    seeded = demo.seed(
        slug=f"wh-{secrets.token_hex(4)}", scale="small", seed=11, as_of=datetime.now(UTC).date(), password=PASSWORD
    )
    pipeline.run(seeded.tenant_id, full=True)
    return seeded


def wh(tenant_id: UUID, sql: str, *params: Any) -> list[tuple]:
    con = warehouse.open_tenant(tenant_id)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def one(tenant_id: UUID, sql: str, *params: Any) -> Any:
    return wh(tenant_id, sql, *params)[0][0]


# A full load is the CRM ---------------------------------------------------------------------------------------

LIVE_COUNTS = {
    "dim_account": "SELECT count(*) AS n FROM accounts WHERE tenant_id = :t AND deleted_at IS NULL",
    "dim_contact": "SELECT count(*) AS n FROM contacts WHERE tenant_id = :t AND deleted_at IS NULL",
    "dim_user": "SELECT count(*) AS n FROM users WHERE tenant_id = :t AND deleted_at IS NULL",
    "fact_deals": "SELECT count(*) AS n FROM deals WHERE tenant_id = :t AND deleted_at IS NULL",
    "fact_deal_stage_history": "SELECT count(*) AS n FROM deal_stage_history WHERE tenant_id = :t",
    "fact_activities": "SELECT count(*) AS n FROM activities WHERE tenant_id = :t AND deleted_at IS NULL",
    "fact_tasks": "SELECT count(*) AS n FROM tasks WHERE tenant_id = :t AND deleted_at IS NULL",
}


def test_a_full_load_has_every_live_record_with_the_crms_figures(loaded_demo: demo.SeedResult) -> None:
    t = loaded_demo.tenant_id
    for table, sql in LIVE_COUNTS.items():
        assert one(t, f"SELECT count(*) FROM {table}") == owner_rows(sql, t=t)[0].n, table
    expected = {
        (r.status, r.n, r.total)
        for r in owner_rows(
            "SELECT CASE WHEN NOT is_closed THEN 'open' WHEN is_won THEN 'won' ELSE 'lost' END AS status,"
            " count(*) AS n, sum(amount) AS total FROM deals WHERE tenant_id = :t AND deleted_at IS NULL GROUP BY 1",
            t=t,
        )
    }
    assert set(wh(t, "SELECT status, count(*), sum(amount) FROM fact_deals GROUP BY 1")) == expected
    # Derived as the CRM derives them: days in stage and rotting of open deals (core.deals.service.derived).
    with unit_of_work(tenant_id=t) as session:
        rows = session.execute(
            Stage.__table__.select().where(Stage.tenant_id == t)  # type: ignore[attr-defined]
        ).all()
        rotting_days = {row.id: row.rotting_days for row in rows}
        from core.deals.models import Deal

        open_deals = session.query(Deal).filter(Deal.tenant_id == t, Deal.is_closed.is_(False)).all()
        crm = {d.id: deals.derived(d, rotting_days[d.stage_id])[:2] for d in open_deals}
    warehouse_rows = {
        r[0]: (r[1], r[2])
        for r in wh(t, "SELECT deal_id, days_in_stage, is_rotting FROM fact_deals WHERE status = 'open'")
    }
    assert warehouse_rows == crm and any(rotting for _, rotting in crm.values())
    # The owner's team comes from the user dimension, on every deal.
    mismatched = (
        "SELECT count(*) FROM fact_deals f JOIN dim_user u ON u.user_id = f.owner_id"
        " WHERE f.team_id IS DISTINCT FROM u.team_id"
    )
    assert one(t, mismatched) == 0 and one(t, "SELECT count(*) FROM fact_deals WHERE team_id IS NULL") == 0


def test_the_snapshot_of_each_past_day_is_what_stage_history_says(loaded_demo: demo.SeedResult) -> None:
    t = loaded_demo.tenant_id
    tz = owner_rows("SELECT timezone FROM tenants WHERE id = :t", t=t)[0].timezone
    today = datetime.now(ZoneInfo(tz)).date()
    for days_ago in (700, 300, 90, 30, 1):
        day = today - timedelta(days=days_ago)
        expected = owner_rows(
            """
            SELECT count(*) AS n, coalesce(sum(x.amount), 0) AS total FROM (
              SELECT DISTINCT ON (h.deal_id) h.deal_id, h.to_stage_id, h.amount FROM deal_stage_history h
              JOIN deals d ON d.id = h.deal_id AND d.deleted_at IS NULL
              WHERE h.tenant_id = :t AND (h.changed_at AT TIME ZONE :tz)::date <= :d
              ORDER BY h.deal_id, h.changed_at DESC, h.id DESC) x
            JOIN deal_stages s ON s.id = x.to_stage_id WHERE NOT s.is_closed_stage
            """,
            t=t,
            tz=tz,
            d=day,
        )[0]
        got = wh(
            t, "SELECT count(*), coalesce(sum(amount), 0) FROM fact_pipeline_snapshot WHERE snapshot_date = ?", day
        )
        assert got[0] == (expected.n, expected.total), day
    assert one(t, "SELECT count(*) FROM fact_pipeline_snapshot WHERE snapshot_date = ?", today) == one(
        t, "SELECT count(*) FROM fact_deals WHERE status = 'open'"
    )
    assert one(t, "SELECT count(DISTINCT snapshot_date) FROM fact_pipeline_snapshot") > 900  # three years of days


def test_the_date_dimension_covers_history_and_two_years_ahead(loaded_demo: demo.SeedResult) -> None:
    t = loaded_demo.tenant_id
    first, last, n = wh(t, "SELECT min(date_key), max(date_key), count(*) FROM dim_date")[0]
    assert first <= one(t, "SELECT min(created_date) FROM fact_deals")
    assert last >= date.today() + timedelta(days=700)
    assert n == (last - first).days + 1
    assert wh(
        t, "SELECT quarter, month_name, day_name, is_weekend FROM dim_date WHERE date_key = DATE '2026-11-28'"
    ) == [(4, "November", "Saturday", True)]


# Incremental loads ---------------------------------------------------------------------------------------------


def make_records(world: TenantWorld) -> dict[str, UUID]:
    actor = world.admin
    with unit_of_work(actor) as session:
        ada = contacts.create(session, actor, ContactCreate(first_name="Ada", last_name="Lovelace"))
        bob = contacts.create(session, actor, ContactCreate(first_name="Bob", last_name="Babbage"))
        deal = deals.create(session, actor, DealCreate(name="Engines", amount=Decimal("1000"), contact_id=ada.id))
        call = activities.create(session, actor, ActivityCreate(type="call", subject="Intro", deal_id=deal.id))
        task = tasks.create(
            session, actor, TaskCreate(title="Follow up", due_at=datetime.now(UTC) - timedelta(days=1), deal_id=deal.id)
        )
        return {"ada": ada.id, "bob": bob.id, "deal": deal.id, "call": call.id, "task": task.id}


def test_an_incremental_load_follows_changes_soft_and_hard_deletes(tenant: TenantWorld) -> None:
    t, actor = tenant.tenant_id, tenant.admin
    ids = make_records(tenant)
    first = pipeline.run(t)
    assert first.full and first.version == 1
    assert one(t, "SELECT is_overdue FROM fact_tasks WHERE task_id = ?", ids["task"]) is True

    with unit_of_work(actor) as session:
        deals.update(session, actor, ids["deal"], DealPatch(amount=Decimal("2500")))
        stages = deals.get(session, actor, ids["deal"])
        next_stage = (
            session.query(Stage)
            .filter(Stage.pipeline_id == stages.pipeline_id, Stage.display_order == 2, Stage.tenant_id == t)
            .one()
        )
        deals.move_stage(session, actor, ids["deal"], next_stage.id)
        contacts.delete(session, actor, ids["bob"])
        carol = contacts.create(session, actor, ContactCreate(first_name="Carol", last_name="Shaw"))
    owner_execute("DELETE FROM tasks WHERE id = :id", id=ids["task"])  # a purge: gone from PostgreSQL for good

    second = pipeline.run(t)
    assert not second.full and second.version == 2
    assert second.tables["dim_contact"].deleted == 1 and second.tables["fact_tasks"].deleted == 1
    assert second.rows_in < first.rows_in + 10  # only what changed (and the small dimensions) was read
    assert wh(t, "SELECT amount, stage_id FROM fact_deals WHERE deal_id = ?", ids["deal"]) == [
        (Decimal("2500.00"), next_stage.id)
    ]
    assert one(t, "SELECT count(*) FROM fact_deal_stage_history WHERE deal_id = ?", ids["deal"]) == 2
    assert (
        one(t, "SELECT count(*) FROM fact_deal_stage_history WHERE deal_id = ? AND left_at IS NULL", ids["deal"]) == 1
    )
    names = {r[0] for r in wh(t, "SELECT first_name FROM dim_contact")}
    assert names == {"Ada", "Carol"} and carol.id
    assert one(t, "SELECT count(*) FROM fact_tasks") == 0
    # Run again with nothing changed: the same warehouse, one version on.
    third = pipeline.run(t)
    assert third.version == 3 and {r[0] for r in wh(t, "SELECT first_name FROM dim_contact")} == {"Ada", "Carol"}

    runs = owner_rows(
        'SELECT status, trigger, "full", rows_in, tables, watermark, warehouse_version FROM etl_runs'
        " WHERE tenant_id = :t ORDER BY started_at",
        t=t,
    )
    assert [(r.status, r.trigger, r.full, r.warehouse_version) for r in runs] == [
        ("succeeded", "manual", True, 1),
        ("succeeded", "manual", False, 2),
        ("succeeded", "manual", False, 3),
    ]
    assert runs[1].tables["fact_deals"]["rowsOut"] == 1 and runs[1].watermark is not None


def test_readers_keep_their_version_and_a_failed_load_publishes_nothing(
    tenant: TenantWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    t, actor = tenant.tenant_id, tenant.admin
    make_records(tenant)
    pipeline.run(t)
    reader = warehouse.open_tenant(t)
    with unit_of_work(actor) as session:
        contacts.create(session, actor, ContactCreate(first_name="Late", last_name="Comer"))

    def crash(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")  # a load that dies after writing most of the new version

    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "_dim_date", crash)
        with pytest.raises(OSError, match="disk full"):
            pipeline.run(t)
    assert warehouse.current(t).version == 1  # type: ignore[union-attr]
    assert one(t, "SELECT count(*) FROM dim_contact WHERE first_name = 'Late'") == 0
    failed = owner_rows("SELECT status, error FROM etl_runs WHERE tenant_id = :t ORDER BY started_at DESC LIMIT 1", t=t)
    assert failed[0].status == "failed" and "disk full" in failed[0].error

    assert pipeline.run(t).version == 2  # the next load does the work
    assert one(t, "SELECT count(*) FROM dim_contact WHERE first_name = 'Late'") == 1
    pipeline.run(t)
    pipeline.run(t)  # version 1's file is retired now...
    assert not (warehouse.tenant_dir(t) / "v000001.duckdb").exists()
    # ...but the reader that opened it still reads what it saw.
    assert reader.execute("SELECT count(*) FROM dim_contact WHERE first_name = 'Late'").fetchone() == (0,)
    reader.close()
    assert not list(warehouse.tenant_dir(t).glob("*.tmp"))


def test_each_tenant_has_its_own_warehouse(tenant: TenantWorld, other_tenant: TenantWorld) -> None:
    for world, name in ((tenant, "Alpha"), (other_tenant, "Beta")):
        actor = world.admin
        with unit_of_work(actor) as session:
            contacts.create(session, actor, ContactCreate(first_name=name, last_name="Only"))
        pipeline.run(world.tenant_id)
    assert wh(tenant.tenant_id, "SELECT first_name FROM dim_contact") == [("Alpha",)]
    assert wh(other_tenant.tenant_id, "SELECT first_name FROM dim_contact") == [("Beta",)]
    paths = {warehouse.current(w.tenant_id).path.parent.name for w in (tenant, other_tenant)}  # type: ignore[union-attr]
    assert paths == {str(tenant.tenant_id), str(other_tenant.tenant_id)}
    with pytest.raises(warehouse.WarehouseNotBuilt):
        warehouse.open_tenant(UUID(int=7))


# In the worker --------------------------------------------------------------------------------------------------


@pytest.fixture
def etl_worker(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The warehouse's job handlers in this process, with a short debounce window."""
    import etl.tasks

    monkeypatch.setenv("CLIENTFORGE_ETL_DEBOUNCE", "1")
    reset_settings()
    etl.tasks.subscribe_loads()  # on for this test only (tests/conftest.py turns it off after each)
    yield etl.tasks
    monkeypatch.delenv("CLIENTFORGE_ETL_DEBOUNCE")
    reset_settings()


def test_a_change_reaches_the_warehouse_through_the_worker(tenant: TenantWorld, etl_worker: Any) -> None:
    from core.jobs import queue

    t, actor = tenant.tenant_id, tenant.admin
    started = time.monotonic()
    with unit_of_work(actor) as session:
        contacts.create(session, actor, ContactCreate(first_name="Evented", last_name="Change"))
        contacts.create(session, actor, ContactCreate(first_name="Second", last_name="Change"))
    queue.dispatch_events()
    jobs = owner_rows("SELECT kind, params, run_at FROM jobs WHERE tenant_id = :t AND kind = 'etl.load'", t=t)
    assert len(jobs) == 1 and jobs[0].params == {"trigger": "event"}  # one load for the burst of changes
    queue.drain(15)
    assert {r[0] for r in wh(t, "SELECT first_name FROM dim_contact")} == {"Evented", "Second"}
    assert time.monotonic() - started < 60
    run = owner_rows("SELECT trigger, status FROM etl_runs WHERE tenant_id = :t", t=t)
    assert [(r.trigger, r.status) for r in run] == [("event", "succeeded")]
    # Loads run every few minutes: their finished jobs leave with the run log's retention (30 days).
    owner_execute("UPDATE jobs SET finished_at = now() - interval '40 days' WHERE tenant_id = :t", t=t)
    owner_execute("UPDATE etl_runs SET started_at = now() - interval '40 days' WHERE tenant_id = :t", t=t)
    pipeline.run(t)
    assert owner_rows("SELECT count(*) AS n FROM jobs WHERE tenant_id = :t AND kind = 'etl.load'", t=t)[0].n == 0
    assert [r.trigger for r in owner_rows("SELECT trigger FROM etl_runs WHERE tenant_id = :t", t=t)] == ["manual"]


def test_the_periodic_schedule_queues_one_load_per_tenant_and_period(
    tenant: TenantWorld, other_tenant: TenantWorld, etl_worker: Any
) -> None:
    stamp = 1_000_000_000 + secrets.randbelow(10**6)
    try:
        etl_worker.schedule(stamp)
        etl_worker.schedule(stamp)  # a second worker's deferrer asking for the same period
        for world in (tenant, other_tenant):
            rows = owner_rows(
                "SELECT params FROM jobs WHERE tenant_id = :t AND kind = 'etl.load' AND dedupe_key = :k",
                t=world.tenant_id,
                k=f"etl.load:schedule:{stamp}",
            )
            assert [r.params for r in rows] == [{"trigger": "schedule"}]
    finally:  # every tenant of the test database got one: leave none for a later drain
        owner_execute(
            "DELETE FROM procrastinate_jobs WHERE status = 'todo' AND args->>'job_id' IN"
            " (SELECT id::text FROM jobs WHERE dedupe_key = :k)",
            k=f"etl.load:schedule:{stamp}",
        )
        owner_execute("UPDATE jobs SET status = 'cancelled' WHERE dedupe_key = :k", k=f"etl.load:schedule:{stamp}")


# By hand -------------------------------------------------------------------------------------------------------


def test_clientforge_etl_run_loads_a_workspace_by_slug(tenant: TenantWorld) -> None:
    make_records(tenant)
    result = runner.invoke(app, ["etl", "run", "--tenant", tenant.slug])
    assert result.exit_code == 0, result.output
    assert f"{tenant.slug}: full load, version 1" in result.stdout and "fact_deals 1" in result.stdout
    again = runner.invoke(app, ["etl", "run", "--tenant", tenant.slug, "--full"])
    assert again.exit_code == 0 and f"{tenant.slug}: full load, version 2" in again.stdout
    third = runner.invoke(app, ["etl", "run", "--tenant", tenant.slug])
    assert "incremental load, version 3" in third.stdout
    missing = runner.invoke(app, ["etl", "run", "--tenant", "no-such-workspace"])
    assert missing.exit_code == 1 and "No workspace with slug 'no-such-workspace'" in missing.stderr


def tables_content(tenant_id: UUID) -> dict[str, list[tuple]]:
    """Every table of the schema and the report layer's derived tables, rows in a stable order."""
    from etl import schema

    derived = ("deal_funnel", "activity_counts")
    return {table: sorted(wh(tenant_id, f"SELECT * FROM {table}"), key=repr) for table in (*schema.TABLES, *derived)}


def test_incremental_loads_bring_the_older_file_up_to_date_and_equal_a_full_rebuild(tenant: TenantWorld) -> None:
    t, actor = tenant.tenant_id, tenant.admin
    ids = make_records(tenant)
    pipeline.run(t)  # version 1 (full)
    with unit_of_work(actor) as session:
        deals.update(session, actor, ids["deal"], DealPatch(amount=Decimal("1500")))
    pipeline.run(t)  # version 2: a copy of 1 (there is no older file yet)
    directory = warehouse.tenant_dir(t)
    first_file = (directory / "v000001.duckdb").stat().st_ino
    with unit_of_work(actor) as session:
        contacts.delete(session, actor, ids["bob"])
        contacts.create(session, actor, ContactCreate(first_name="Dora", last_name="New"))
        activities.create(session, actor, ActivityCreate(type="email", subject="Proposal", deal_id=ids["deal"]))
    third = pipeline.run(t)  # version 3: version 1's file, brought up to date with what changed since its load
    assert (directory / "v000003.duckdb").stat().st_ino == first_file
    assert third.tables["fact_deals"].rows_out >= 1  # the change of load 2 came again: version 1 never saw it
    incremental = tables_content(t)
    assert {r[1] for r in incremental["dim_contact"]} == {"Ada", "Dora"}
    pipeline.run(t, full=True)
    assert tables_content(t) == incremental


def activity_counts_recounted(tenant_id: UUID) -> tuple[list[tuple], list[tuple]]:
    """(the rollup as loaded, the same counted now from fact_activities), and likewise per deal."""
    kept = sorted(wh(tenant_id, "SELECT owner_id, deal_id, activities FROM activity_counts"), key=repr)
    recount = sorted(wh(tenant_id, "SELECT owner_id, deal_id, count(*) FROM fact_activities GROUP BY ALL"), key=repr)
    return kept, recount


def test_the_activity_rollup_follows_incremental_loads_and_equals_a_recount(tenant: TenantWorld) -> None:
    t, actor = tenant.tenant_id, tenant.admin
    ids = make_records(tenant)
    with unit_of_work(actor) as session:
        other = deals.create(session, actor, DealCreate(name="Looms", amount=Decimal("400")))
        moved = activities.create(session, actor, ActivityCreate(type="email", subject="Spec", deal_id=ids["deal"]))
        dropped = activities.create(session, actor, ActivityCreate(type="note", subject="Old", deal_id=other.id))
        purged = activities.create(session, actor, ActivityCreate(type="call", subject="Cold", contact_id=ids["ada"]))
    pipeline.run(t)
    assert wh(t, "SELECT activities FROM activity_counts WHERE deal_id = ?", ids["deal"]) == [(2,)]
    assert one(t, "SELECT activities FROM activity_counts WHERE deal_id IS NULL") == 1
    assert one(t, "SELECT activity_count FROM fact_deals WHERE deal_id = ?", ids["deal"]) == 2

    with unit_of_work(actor) as session:
        activities.update(session, actor, moved.id, ActivityUpdate(deal_id=other.id))  # from one pair to another
        activities.delete(session, actor, dropped.id)  # soft delete
        activities.create(session, actor, ActivityCreate(type="meeting", subject="Demo", deal_id=other.id))
    owner_execute("DELETE FROM activities WHERE id = :id", id=purged.id)  # a hard delete (audit trail)
    second = pipeline.run(t)
    assert not second.full
    kept, recount = activity_counts_recounted(t)
    assert kept == recount
    assert dict(wh(t, "SELECT deal_id, activities FROM activity_counts WHERE deal_id IS NOT NULL")) == {
        ids["deal"]: 1,
        other.id: 2,
    }
    assert one(t, "SELECT count(*) FROM activity_counts WHERE deal_id IS NULL") == 0  # the one without a deal went
    assert dict(wh(t, "SELECT deal_id, activity_count FROM fact_deals")) == {ids["deal"]: 1, other.id: 2}
    incremental = tables_content(t)
    pipeline.run(t, full=True)
    assert tables_content(t) == incremental


def test_tables_read_in_many_pieces_load_the_same_as_in_one(
    tenant: TenantWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etl import extract

    t, actor = tenant.tenant_id, tenant.admin
    ids = make_records(tenant)
    subject = 'Re: "Q3" proposal,\nsecond line\r\nand a "quoted, comma"'
    with unit_of_work(actor) as session:
        for n in range(30):
            activities.create(
                session, actor, ActivityCreate(type="email", subject=f"{subject} {n}", deal_id=ids["deal"])
            )
    pipeline.run(t, full=True)
    whole = tables_content(t)

    pieces: dict[str, int] = {}
    parse = extract.parse

    def counted(source: Any, data: bytes, **kwargs: Any) -> Any:
        pieces[source.table] = pieces.get(source.table, 0) + 1
        return parse(source, data, **kwargs)

    monkeypatch.setattr(extract, "CHUNK_BYTES", 400)  # a row or two per piece
    monkeypatch.setattr(extract, "parse", counted)
    result = pipeline.run(t, full=True)
    assert pieces["activities"] > 10 and pieces["users"] >= 1
    assert result.tables["fact_activities"].rows_in == 31
    assert tables_content(t) == whole
    assert one(t, "SELECT count(*) FROM fact_activities WHERE subject LIKE ?", f"{subject} %") == 30

    monkeypatch.setattr(extract, "CHUNK_BYTES", 400)
    with unit_of_work(actor) as session:
        activities.create(session, actor, ActivityCreate(type="call", subject="After", deal_id=ids["deal"]))
    assert pipeline.run(t).tables["fact_activities"].rows_out >= 1  # incremental, in pieces too
    assert one(t, "SELECT activity_count FROM fact_deals WHERE deal_id = ?", ids["deal"]) == 32


def test_a_copy_the_server_fails_part_way_raises_its_error(tenant: TenantWorld) -> None:
    """Rows are taken from libpq directly while they flow (etl/extract.py); the server's error at the end of the
    COPY still reaches the caller, as psycopg's own read would raise it."""
    import polars as pl
    import psycopg.errors

    from etl.extract import Extractor, Source

    t, actor = tenant.tenant_id, tenant.admin
    ids = make_records(tenant)
    with unit_of_work(actor) as session:
        for n in range(40):
            activities.create(
                session,
                actor,
                ActivityCreate(
                    type="call", subject=f"Call {n}", duration_seconds=0 if n == 39 else 60, deal_id=ids["deal"]
                ),
            )
    failing = Source("activities", {"per_second": ("(1000 / t.duration_seconds)::int", pl.Int64())})
    fine = Source("activities", {"subject": ("t.subject", pl.String())})
    with Extractor.open(t) as extractor:
        assert sum(len(piece.data.splitlines()) - piece.header for piece in extractor.stream_csv(fine)) >= 40
        with pytest.raises(psycopg.errors.DivisionByZero):
            list(extractor.stream_csv(failing, chunk_bytes=64))


def test_a_load_that_fails_while_reading_stops_the_reader_and_publishes_nothing(
    tenant: TenantWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from etl import extract

    t, actor = tenant.tenant_id, tenant.admin
    ids = make_records(tenant)
    with unit_of_work(actor) as session:
        for n in range(20):
            activities.create(session, actor, ActivityCreate(type="email", subject=f"Note {n}", deal_id=ids["deal"]))
    pipeline.run(t)
    insert = pipeline._insert

    def crash(con: Any, table: str, rows: Any) -> int:
        if table == "fact_activities":
            raise OSError("disk full")  # while the reader thread is still in the middle of the activities COPY
        return insert(con, table, rows)

    monkeypatch.setattr(extract, "CHUNK_BYTES", 200)
    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "_insert", crash)
        with pytest.raises(OSError, match="disk full"):
            pipeline.run(t, full=True)
    assert not [thread for thread in threading.enumerate() if thread.name in ("etl-receive", "etl-parse")]
    assert warehouse.current(t).version == 1  # type: ignore[union-attr]
    assert pipeline.run(t).version == 2  # the connection pool is fine, the next load does the work
    assert one(t, "SELECT count(*) FROM fact_activities") == 21


def test_a_warehouse_of_an_older_schema_is_rebuilt_by_the_next_load(tenant: TenantWorld) -> None:
    import duckdb

    make_records(tenant)
    pipeline.run(tenant.tenant_id)
    for version in sorted(warehouse.tenant_dir(tenant.tenant_id).glob("v*.duckdb")):
        with duckdb.connect(str(version)) as con:  # as a release with another schema would have left them
            con.execute("UPDATE etl_state SET value = 'older' WHERE name = 'schema'")
            con.execute("ALTER TABLE fact_deals DROP COLUMN activity_count")
    rebuilt = pipeline.run(tenant.tenant_id)
    assert rebuilt.full and rebuilt.version == 2
    assert one(tenant.tenant_id, "SELECT activity_count FROM fact_deals") == 1
