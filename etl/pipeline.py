"""The load: PostgreSQL -> Polars -> a new version of the tenant's DuckDB warehouse, logged in `etl_runs`.

`run(tenant_id)` is incremental when a warehouse exists: it copies the current version, re-reads only rows
changed since each table's watermark (less `etl_overlap_seconds`, for transactions that committed late),
replaces them by key, removes soft-deleted rows and rows whose hard delete the audit trail records, refreshes
the columns that depend on the time of the load or on other tables, extends the daily pipeline snapshot, and
publishes the new version. `full=True` (or no warehouse yet) builds from nothing; the first build derives
every past day's snapshot from the deals' stage history. Watermarks are stored in the warehouse file itself,
so a crashed load (its version never published) leaves data and watermarks as they were, and the next load
does the same work again: runs are idempotent.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import duckdb
import polars as pl
import pyarrow as pa
from sqlalchemy import delete, update

import core.models  # noqa: F401 - every table mapped, so that foreign keys resolve in a bare process
from core.actor import Actor
from core.analytics.models import EtlRun
from core.config import get_settings
from core.db import unit_of_work
from core.ids import new_id
from core.jobs import service as jobs
from etl import schema, transform, warehouse
from etl.extract import SOURCES, Extracted, Extractor
from etl.reports import views

log = logging.getLogger(__name__)
T = TypeVar("T")

# Source tables whose hard deletes remove warehouse rows (source -> warehouse table).
_DELETES_FROM = {source: table for table, (source, _) in transform.TRANSFORMS.items()}
_WHOLE = ("dim_user", "dim_pipeline_stage")
LOAD_JOB = "etl.load"  # the worker's job kind (etl/tasks.py)  # small: replaced whole on every load


@dataclass
class TableStats:
    rows_in: int = 0
    rows_out: int = 0
    deleted: int = 0
    watermark: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"rowsIn": self.rows_in, "rowsOut": self.rows_out, "deleted": self.deleted, "watermark": self.watermark}


@dataclass
class RunResult:
    run_id: UUID
    tenant_id: UUID
    full: bool
    version: int
    seconds: float
    tables: dict[str, TableStats] = field(default_factory=dict)

    @property
    def rows_in(self) -> int:
        return sum(t.rows_in for t in self.tables.values())

    @property
    def rows_out(self) -> int:
        return sum(t.rows_out for t in self.tables.values())


def run(tenant_id: UUID, *, full: bool = False, trigger: str = "manual") -> RunResult:
    """Load the tenant's warehouse (waits for a load of the same tenant that is running)."""
    tenant_id = UUID(str(tenant_id))
    run_id = _log_start(tenant_id, trigger=trigger, full=full)
    started = time.perf_counter()
    try:
        with warehouse.locked(tenant_id):
            version = warehouse.NextVersion(tenant_id, fresh=full)
            path = version.start()
            try:
                con = duckdb.connect(str(path))
            except duckdb.IOException:  # the older file is still open by a reader (another process)
                version.copy_current()
                con = duckdb.connect(str(path))
            try:
                tables, watermark, full_load = _load(con, tenant_id, fresh=version.fresh, donor=version.donor)
                con.execute("CHECKPOINT")
            finally:
                con.close()
            version.publish()
    except BaseException as exc:
        _log_failure(run_id, tenant_id, started, exc)
        raise
    result = RunResult(run_id, tenant_id, full_load, version.version, time.perf_counter() - started, tables)
    _log_success(result, watermark)
    log.info(
        "warehouse load",
        extra={
            "tenant_id": str(tenant_id),
            "full": result.full,
            "version": result.version,
            "seconds": round(result.seconds, 3),
            "rows_in": result.rows_in,
            "rows_out": result.rows_out,
        },
    )
    return result


# The load ------------------------------------------------------------------------------------------------


def _load(
    con: duckdb.DuckDBPyConnection, tenant_id: UUID, *, fresh: bool, donor: Path | None = None
) -> tuple[dict[str, TableStats], datetime, bool]:
    """Load into `con`; returns the stats, the snapshot time and whether the load was (or had to be) full."""
    state = _state(con)
    if not fresh and state.get("schema") != schema.fingerprint():  # a file of an older schema: rebuild it
        _drop_everything(con)
        fresh, donor, state = True, None, {}
    for statement in schema.create_statements():
        con.execute(statement)
    overlap = timedelta(seconds=get_settings().etl_overlap_seconds)
    stats: dict[str, TableStats] = {}
    with Extractor.open(tenant_id) as extractor:
        tenant = extractor.tenant()
        tz, now = tenant["timezone"], tenant["now"]
        deletes_since = None if fresh else _since(state.get("watermark:audit"), overlap)
        hard_deleted = {} if fresh or deletes_since is None else extractor.deleted_ids(deletes_since)
        since = {
            source: None if fresh else _since(state.get(f"watermark:{source}"), overlap)
            for source, _ in transform.TRANSFORMS.values()
        }
        con.execute("BEGIN")
        changed_deals: set[str] = set()
        marks: dict[str, datetime] = {}
        stages_before = _fingerprint(con, "dim_pipeline_stage")
        # Piece by piece (etl/extract.py), one table after the other: threads receive and parse the next
        # pieces while this one writes the last into DuckDB, so the server's work and ours overlap.
        with contextlib.closing(_pieces(extractor, since)) as pieces:
            for table, group in itertools.groupby(pieces, key=lambda item: item[0]):
                source_name, fn = transform.TRANSFORMS[table]
                frames = (piece.frame for _, piece in group)
                noted = _noted(
                    table, source_name, frames, marks=marks, changed_deals=changed_deals, track_deals=not fresh
                )
                written = ((frame, fn(frame, tz)) for frame in noted)
                table_stats = stats.setdefault(table, TableStats())
                _apply(con, table, written, hard_deleted.get(source_name, []), table_stats, fresh=fresh)
        for table, (source_name, _) in transform.TRANSFORMS.items():
            if source_name in marks:
                state[f"watermark:{source_name}"] = marks[source_name].isoformat()
            stats[table].watermark = state.get(f"watermark:{source_name}")
    stages_changed = _fingerprint(con, "dim_pipeline_stage") != stages_before
    today = now.astimezone(_zone(tz)).date()
    _refresh(con, now, fresh=fresh, changed_deals=sorted(changed_deals))
    _snapshot(con, state, today, fresh=fresh, donor=donor)
    _dim_date(con, today, fiscal_start=int(tenant["settings"].get("fiscal_year_start_month", 1) or 1))
    _derived(con, fresh=fresh, changed_deals=sorted(changed_deals), stages_changed=stages_changed)
    state["watermark:audit"] = now.isoformat()
    state["snapshot_last_day"] = today.isoformat()
    state["timezone"] = tz
    state["loaded_at"] = now.isoformat()
    state["schema"] = schema.fingerprint()
    con.execute(f"DELETE FROM {schema.STATE_TABLE}")
    con.executemany(f"INSERT INTO {schema.STATE_TABLE} VALUES (?, ?)", sorted(state.items()))
    con.execute("COMMIT")
    return stats, now, fresh


def _state(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [schema.STATE_TABLE]
    ).fetchall()[0][0]
    return dict(con.execute(f"SELECT name, value FROM {schema.STATE_TABLE}").fetchall()) if exists else {}


def _drop_everything(con: duckdb.DuckDBPyConnection) -> None:
    for name, kind in con.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall():
        con.execute(f'DROP {"VIEW" if kind == "VIEW" else "TABLE"} IF EXISTS "{name}"')


_AHEAD = 2  # pieces each stage keeps ready for the next (32 MB of CSV each, etl/extract.py)


def _pieces(extractor: Extractor, since: dict[str, datetime | None]) -> Generator[tuple[str, Extracted], None, None]:
    """(warehouse table, piece of its extract) for every table, in load order; at least one piece per table.
    Three stages run at once: a thread receives the COPY output (keeping the server busy), another parses it,
    and the caller writes the frames."""
    received = _ahead(
        (
            (table, piece)
            for table, (source_name, _) in transform.TRANSFORMS.items()
            for piece in extractor.stream_csv(SOURCES[source_name], since[source_name])
        ),
        depth=_AHEAD,
        name="etl-receive",
    )
    with contextlib.closing(received):
        yield from _ahead(((table, piece.parsed()) for table, piece in received), depth=_AHEAD, name="etl-parse")


def _ahead(items: Generator[T, None, None], *, depth: int, name: str) -> Generator[T, None, None]:
    """`items`, produced by a thread that keeps up to `depth` of them ready. The thread alone runs `items` (and
    whatever connection it reads) until it ends; if the caller stops early, the thread closes `items` first."""
    ready: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        ready.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put(("end", None))
        except BaseException as exc:  # handed to the caller, who raises it
            ready.put(("error", exc))
        finally:
            if stop.is_set():
                items.close()  # ends a COPY it was in the middle of (psycopg cancels it)

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            kind, value = ready.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting for room, then wait for it to close `items`
            with contextlib.suppress(queue.Empty):
                ready.get(timeout=0.1)
        thread.join()


def _noted(
    table: str,
    source_name: str,
    frames: Iterator[pl.DataFrame],
    *,
    marks: dict[str, datetime],
    changed_deals: set[str],
    track_deals: bool,
) -> Iterator[pl.DataFrame]:
    """`frames` (a table's extract, piece by piece), noting as they pass the source's latest watermark value
    (`marks`) and, for deals and their stage history when `track_deals` (an incremental load: a full one
    refreshes every deal), the deals whose owner, pipeline or stays may have changed."""
    watermark = SOURCES[source_name].watermark
    for frame in frames:
        if watermark is not None and frame.height:
            mark: datetime = frame[watermark].max()  # type: ignore[assignment]
            marks[source_name] = max(mark, marks.get(source_name, mark))
        if track_deals and table in ("fact_deals", "fact_deal_stage_history"):
            changed_deals.update(frame["deal_id" if "deal_id" in frame.columns else "id"].to_list())
        yield frame


def _apply(
    con: duckdb.DuckDBPyConnection,
    table: str,
    pieces: Iterator[tuple[pl.DataFrame, pl.DataFrame]],
    hard_deleted: list[str],
    stats: TableStats,
    *,
    fresh: bool,
) -> None:
    """Write a table's extract, given as (extracted frame, its rows) per piece: replace the changed rows (all of
    them when fresh, or for the small dimensions) and remove deleted ones: soft-deleted rows of the extract, and
    hard deletes the audit trail recorded."""
    key = schema.KEYS[table]
    if table in _WHOLE or fresh:  # one INSERT for the whole table (several would rewrite row groups at commit)
        con.execute(f"DELETE FROM {table}")
        stats.rows_out += _insert(con, table, _counted(pieces, stats))
        return
    for n, (frame, rows) in enumerate(pieces):  # an incremental load: little, a piece at a time
        stats.rows_in += frame.height
        gone = list(hard_deleted) if n == 0 else []
        if "deleted" in frame.columns:
            gone.extend(frame.filter(pl.col("deleted"))["id"].to_list())
        keys = [*gone, *rows[key].to_list()]
        if table == "fact_activities" and keys:  # the rollup counts their owner-and-deal pairs again
            views.track_activities(con, keys)
        stats.deleted += _delete_keys(con, table, key, keys, count_only=gone)
        stats.rows_out += _insert(con, table, iter([rows]))


def _derived(con: duckdb.DuckDBPyConnection, *, fresh: bool, changed_deals: list[str], stages_changed: bool) -> None:
    """The report layer's derived data (etl/reports/views.py), for the deals and activities that changed."""
    views.refresh(con, None if fresh or stages_changed else changed_deals, recount=fresh)


def _fingerprint(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    """A small table's content, to tell whether a load changed it."""
    return sorted(con.execute(f"SELECT * EXCLUDE (updated_at) FROM {table}").fetchall(), key=repr)


def _since(mark: str | None, overlap: timedelta) -> datetime | None:
    return None if mark is None else datetime.fromisoformat(mark) - overlap


def _zone(tz: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(tz)


def _delete_keys(
    con: duckdb.DuckDBPyConnection, table: str, key: str, keys: list[str], *, count_only: list[str]
) -> int:
    """Delete rows whose key is in `keys` (changed rows about to be replaced, and removed ones); returns how
    many of the removed ones (`count_only`) were in the table."""
    if not keys:
        return 0
    removed = 0
    if count_only:
        removed = con.execute(
            f"SELECT count(*) FROM {table} WHERE {key} IN (SELECT UNNEST(?::UUID[]))", [count_only]
        ).fetchall()[0][0]
    incoming = pl.DataFrame({"k": keys}, schema={"k": pl.String()}).unique()
    con.register("_keys", incoming.to_arrow())
    con.execute(f"DELETE FROM {table} WHERE {key} IN (SELECT k::UUID FROM _keys)")
    con.unregister("_keys")
    return int(removed)


def _counted(pieces: Iterator[tuple[pl.DataFrame, pl.DataFrame]], stats: TableStats) -> Iterator[pl.DataFrame]:
    for frame, rows in pieces:
        stats.rows_in += frame.height
        yield rows


def _insert(con: duckdb.DuckDBPyConnection, table: str, frames: Iterator[pl.DataFrame]) -> int:
    """Insert the rows of `frames` with one INSERT that reads them as they come (a pyarrow stream), typed as
    the schema says; returns how many. An error raised while producing a frame is raised as it is."""
    first = next(frames, None)
    if first is None:
        return 0
    arrow_schema = _arrow(first).schema
    count, failed = 0, []

    def batches() -> Iterator[pa.RecordBatch]:
        nonlocal count
        try:
            for frame in itertools.chain([first], frames):
                count += frame.height
                data = _arrow(frame)
                yield from (data if data.schema == arrow_schema else data.cast(arrow_schema)).to_batches()
        except BaseException as exc:
            failed.append(exc)
            raise

    con.register("_rows", pa.RecordBatchReader.from_batches(arrow_schema, batches()))
    casts = ", ".join(f'CAST("{name}" AS {kind})' for name, kind in schema.TABLES[table])
    try:
        con.execute(f"INSERT INTO {table} SELECT {casts} FROM _rows")
    except Exception:
        if failed:
            raise failed[0] from None
        raise
    finally:
        con.unregister("_rows")
    return count


def _arrow(frame: pl.DataFrame) -> pa.Table:
    return frame.to_arrow(compat_level=pl.CompatLevel.newest())  # string views: no copy


def _refresh(con: duckdb.DuckDBPyConnection, now: datetime, *, fresh: bool, changed_deals: list[str]) -> None:
    """Columns that depend on other tables or on the time of the load. Each statement computes the new values
    for every row but writes only the rows whose value changed: rewriting unchanged rows is what costs."""
    con.execute(
        """
        UPDATE fact_deals d SET team_id = x.team_id, industry = x.industry, days_in_stage = x.days,
                                is_rotting = x.rotting
        FROM (SELECT f.deal_id, u.team_id, a.industry, x0.days,
                     NOT f.is_closed AND s.rotting_days IS NOT NULL AND x0.days > s.rotting_days AS rotting
              FROM fact_deals f
              CROSS JOIN LATERAL (SELECT CASE WHEN NOT f.is_closed THEN  -- whole days, as the CRM counts them
                  greatest((epoch_us($now::TIMESTAMPTZ) - epoch_us(f.stage_entered_at)) // 86400000000, 0) END
                  AS days) x0
              LEFT JOIN dim_user u ON u.user_id = f.owner_id
              LEFT JOIN dim_account a ON a.account_id = f.account_id
              LEFT JOIN dim_pipeline_stage s ON s.stage_id = f.stage_id) x
        WHERE x.deal_id = d.deal_id
          AND (d.team_id IS DISTINCT FROM x.team_id OR d.industry IS DISTINCT FROM x.industry
               OR d.days_in_stage IS DISTINCT FROM x.days OR d.is_rotting IS DISTINCT FROM x.rotting)
        """,
        {"now": now},
    )
    for table, owner in (("fact_activities", "owner_id"), ("fact_tasks", "assignee_id")):
        con.execute(
            f"UPDATE {table} f SET team_id = u.team_id FROM dim_user u"
            f" WHERE u.user_id = f.{owner} AND f.team_id IS DISTINCT FROM u.team_id"
        )
    con.execute(
        """
        UPDATE fact_tasks t SET is_overdue = x.overdue
        FROM (SELECT task_id, status NOT IN ('done', 'cancelled') AND due_at IS NOT NULL
                              AND due_at < $now::TIMESTAMPTZ AS overdue FROM fact_tasks) x
        WHERE x.task_id = t.task_id AND t.is_overdue IS DISTINCT FROM x.overdue
        """,
        {"now": now},
    )
    # A deleted deal's history goes with it (a full load reads the history of deleted deals too).
    con.execute("DELETE FROM fact_deal_stage_history WHERE deal_id NOT IN (SELECT deal_id FROM fact_deals)")
    # Stage history: pipeline and owner from the deal, when each stay ended and how long it lasted (NULL while
    # the deal is still there: fact_deals.days_in_stage has that). Only deals changed by this load can differ.
    con.register("_changed", pl.DataFrame({"deal_id": changed_deals}, schema={"deal_id": pl.String()}).to_arrow())
    con.execute(
        """
        UPDATE fact_deal_stage_history h SET pipeline_id = n.pipeline_id, owner_id = n.owner_id, left_at = n.next_at,
          hours_in_stage = date_diff('second', h.changed_at, n.next_at) / 3600.0
        FROM (SELECT x.history_id, d.pipeline_id, d.owner_id,
                     lead(x.changed_at) OVER (PARTITION BY x.deal_id ORDER BY x.changed_at, x.history_id) AS next_at
              FROM fact_deal_stage_history x JOIN fact_deals d ON d.deal_id = x.deal_id
              WHERE $all OR x.deal_id IN (SELECT deal_id::UUID FROM _changed)) n
        WHERE n.history_id = h.history_id
        """,
        {"all": fresh},
    )
    con.unregister("_changed")


def _snapshot(
    con: duckdb.DuckDBPyConnection, state: dict[str, str], today: date, *, fresh: bool, donor: Path | None
) -> None:
    """Every open deal as it stood at the end of each day. Past days come from stage history (stage, amount and
    probability as recorded at each change) the first time they are built; today's rows come from the deals as
    they are now and are rebuilt by every load of the day, so the last load of a day fixes that day for good.
    A file brought up to date from an older version first takes the days it missed from the current one."""
    last = state.get("snapshot_last_day")
    last_day = date.fromisoformat(last) if last and not fresh else None
    if last_day is not None and donor is not None:
        con.execute(f"ATTACH '{donor}' AS donor (READ_ONLY)")
        donor_last = con.execute("SELECT value FROM donor.etl_state WHERE name = 'snapshot_last_day'").fetchall()
        if donor_last and date.fromisoformat(donor_last[0][0]) >= last_day:
            con.execute("DELETE FROM fact_pipeline_snapshot WHERE snapshot_date >= $d", {"d": last_day})
            con.execute(
                "INSERT INTO fact_pipeline_snapshot SELECT * FROM donor.fact_pipeline_snapshot"
                " WHERE snapshot_date >= $d AND snapshot_date < $today",
                {"d": last_day, "today": today},
            )
            last_day = min(date.fromisoformat(donor_last[0][0]), today)
        con.execute("DETACH donor")
    if last_day is None:
        con.execute("DELETE FROM fact_pipeline_snapshot")
        first = con.execute("SELECT min(changed_date) FROM fact_deal_stage_history").fetchall()[0][0]
        history_from = first
    elif last_day >= today:
        con.execute("DELETE FROM fact_pipeline_snapshot WHERE snapshot_date >= $today", {"today": today})
        history_from = None
    else:
        history_from = last_day + timedelta(days=1)
    if history_from is not None and history_from <= today - timedelta(days=1):
        # Each deal's stays first (a table, so that the insert below reads it in parallel); the last change of a
        # day is how the deal ended that day.
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _stays AS
            SELECT * FROM (
              SELECT deal_id, to_stage_id, amount, probability, changed_date AS d0,
                     lead(changed_date) OVER (PARTITION BY deal_id ORDER BY changed_at, history_id) AS d1
              FROM fact_deal_stage_history)
            WHERE d1 IS NULL OR d1 > d0
            """
        )
        con.execute(
            """
            INSERT INTO fact_pipeline_snapshot
            -- each stay's days unnested in the SELECT list, so that a deal's days stay together: the columns
            -- then compress to runs (a tenth of the size on disk, and less to write)
            SELECT CAST(unnest(generate_series(greatest(sp.d0, $start)::TIMESTAMP,
                                               least(coalesce(sp.d1 - 1, $end), $end)::TIMESTAMP,
                                               INTERVAL 1 DAY)) AS DATE),
                   sp.deal_id, d.pipeline_id, sp.to_stage_id, d.owner_id, sp.amount, sp.probability,
                   CAST(sp.amount * sp.probability / 100 AS DECIMAL(18,2)), d.expected_close_date
            FROM _stays sp
            JOIN fact_deals d ON d.deal_id = sp.deal_id
            JOIN dim_pipeline_stage s ON s.stage_id = sp.to_stage_id AND NOT s.is_closed
            WHERE greatest(sp.d0, $start) <= least(coalesce(sp.d1 - 1, $end), $end)
            """,
            {"start": history_from, "end": today - timedelta(days=1)},
        )
        con.execute("DROP TABLE _stays")
    con.execute(
        """
        INSERT INTO fact_pipeline_snapshot
        SELECT $today, deal_id, pipeline_id, stage_id, owner_id, amount, probability, weighted_amount,
               expected_close_date
        FROM fact_deals WHERE status = 'open'
        """,
        {"today": today},
    )


def _dim_date(con: duckdb.DuckDBPyConnection, today: date, *, fiscal_start: int) -> None:
    """One row per day from the earliest date in the facts to two years ahead (forecast horizons)."""
    first = con.execute(
        "SELECT least(min(created_date), (SELECT min(occurred_date) FROM fact_activities),"
        " (SELECT min(changed_date) FROM fact_deal_stage_history)) FROM fact_deals"
    ).fetchall()[0][0]
    start = min(first or today, today) - timedelta(days=1)
    con.execute("DELETE FROM dim_date")
    con.execute(
        """
        INSERT INTO dim_date
        SELECT d::DATE, year(d), quarter(d), month(d), monthname(d), strftime(d, '%Y-%m'), weekofyear(d),
               date_trunc('week', d)::DATE, isodow(d), dayname(d), isodow(d) >= 6,
               year(d) + CASE WHEN $fs > 1 AND month(d) >= $fs THEN 1 ELSE 0 END,
               ((month(d) - $fs + 12) % 12) // 3 + 1
        FROM UNNEST(generate_series($start::TIMESTAMP, $end::TIMESTAMP, INTERVAL 1 DAY)) AS g(d)
        """,
        {"start": start, "end": today + timedelta(days=730), "fs": fiscal_start},
    )


# The run log (PostgreSQL) -----------------------------------------------------------------------------------


def _log_start(tenant_id: UUID, *, trigger: str, full: bool) -> UUID:
    run_id = new_id()
    with unit_of_work(Actor.system(tenant_id)) as session:
        session.add(
            EtlRun(
                id=run_id,
                tenant_id=tenant_id,
                status="running",
                trigger=trigger,
                full=full,
                started_at=datetime.now(UTC),
            )
        )
    return run_id


def _log_success(result: RunResult, watermark: datetime) -> None:
    with unit_of_work(Actor.system(result.tenant_id)) as session:
        session.execute(
            update(EtlRun)
            .where(EtlRun.tenant_id == result.tenant_id, EtlRun.id == result.run_id)
            .values(
                status="succeeded",
                full=result.full,
                finished_at=datetime.now(UTC),
                duration_ms=int(result.seconds * 1000),
                tables={name: stats.as_json() for name, stats in result.tables.items()},
                rows_in=result.rows_in,
                rows_out=result.rows_out,
                watermark=watermark,
                warehouse_version=result.version,
            )
        )
        keep = datetime.now(UTC) - timedelta(days=get_settings().etl_run_retention_days)
        session.execute(delete(EtlRun).where(EtlRun.tenant_id == result.tenant_id, EtlRun.started_at < keep))
        # The worker queues a load every few minutes: its finished jobs go with the log's retention.
        jobs.prune_system_jobs(session, tenant_id=result.tenant_id, kind=LOAD_JOB, finished_before=keep)


def _log_failure(run_id: UUID, tenant_id: UUID, started: float, exc: BaseException) -> None:
    try:
        with unit_of_work(Actor.system(tenant_id)) as session:
            session.execute(
                update(EtlRun)
                .where(EtlRun.tenant_id == tenant_id, EtlRun.id == run_id)
                .values(
                    status="failed",
                    finished_at=datetime.now(UTC),
                    duration_ms=int((time.perf_counter() - started) * 1000),
                    error=f"{type(exc).__name__}: {exc}"[:2000],
                )
            )
    except Exception:
        log.exception("could not record the failure of warehouse load %s", run_id)
