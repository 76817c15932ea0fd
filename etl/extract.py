"""Extract: tenant rows out of PostgreSQL in bulk (`COPY (SELECT ...) TO STDOUT` as CSV) into Polars frames.

Runs as the app role in one REPEATABLE READ, read-only transaction bound to the tenant, so row-level security
applies on top of the explicit `tenant_id` filter and every table is read from the same snapshot. Timestamps
travel as epoch microseconds, booleans as 0/1 and arrays as JSON text, so parsing is exact and needs no
locale or time zone guesses. A table arrives in pieces of about `CHUNK_BYTES` of CSV (`Extractor.stream`), so
that the loader writes one piece while the server produces the next, and never holds a whole large table.
"""

from __future__ import annotations

import io
import selectors
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import polars as pl
import psycopg
import psycopg.errors
from psycopg import pq, sql
from sqlalchemy.orm import Session

from core.actor import Actor
from core.db import unit_of_work


@dataclass(frozen=True)
class Source:
    """One PostgreSQL table as extracted: its columns (name -> (SQL expression, Polars type)); `watermark` is
    the column incremental extraction filters on (None: always read whole, for small tables)."""

    table: str
    columns: dict[str, tuple[str, pl.DataType]]
    watermark: str | None = "updated_at"
    soft_delete: bool = True
    joins: str = ""
    alias: str = "t"


def _ts(column: str) -> tuple[str, pl.DataType]:
    return (f"(extract(epoch from {column}) * 1000000)::bigint", pl.Datetime("us", "UTC"))


def _text(column: str) -> tuple[str, pl.DataType]:
    return (column, pl.String())


def _float(column: str) -> tuple[str, pl.DataType]:
    return (f"{column}::float8", pl.Float64())


def _uuid(column: str) -> tuple[str, pl.DataType]:
    return (f"{column}::text", pl.String())


def _bool(column: str) -> tuple[str, pl.DataType]:
    return (f"{column}::int", pl.Boolean())


def _int(column: str) -> tuple[str, pl.DataType]:
    return (column, pl.Int64())


def _money(column: str) -> tuple[str, pl.DataType]:
    return (f"round({column}, 2)::text", pl.Decimal(18, 2))


def _date(column: str) -> tuple[str, pl.DataType]:
    return (f"{column}::text", pl.Date())


def _tags(column: str) -> tuple[str, pl.DataType]:
    return (f"array_to_json({column})::text", pl.List(pl.String()))


def _record(prefix: str = "t") -> dict[str, tuple[str, pl.DataType]]:
    return {
        "id": _uuid(f"{prefix}.id"),
        "created_at": _ts(f"{prefix}.created_at"),
        "updated_at": _ts(f"{prefix}.updated_at"),
        "deleted": _bool(f"({prefix}.deleted_at IS NOT NULL)"),
    }


SOURCES: dict[str, Source] = {
    "users": Source(
        "users",
        {
            **_record(),
            "email": _text("t.email"),
            "first_name": _text("t.first_name"),
            "last_name": _text("t.last_name"),
            "role": _text("r.name"),
            "team_id": _uuid("t.team_id"),
            "team_name": _text("tm.name"),
            "team_manager_id": _uuid("tm.manager_id"),
            "is_active": _bool("t.is_active"),
        },
        watermark=None,
        joins="JOIN roles r ON r.id = t.role_id LEFT JOIN teams tm ON tm.id = t.team_id AND tm.deleted_at IS NULL",
    ),
    "stages": Source(
        "deal_stages",
        {
            **_record(),
            "deleted": _bool("(t.deleted_at IS NOT NULL OR p.deleted_at IS NOT NULL)"),
            "pipeline_id": _uuid("t.pipeline_id"),
            "pipeline_name": _text("p.name"),
            "is_default_pipeline": _bool("p.is_default"),
            "name": _text("t.name"),
            "display_order": _int("t.display_order"),
            "probability": _int("t.probability"),
            "is_closed_stage": _bool("t.is_closed_stage"),
            "is_won_stage": _bool("t.is_won_stage"),
            "rotting_days": _int("t.rotting_days"),
        },
        watermark=None,
        joins="JOIN pipelines p ON p.id = t.pipeline_id",
    ),
    "accounts": Source(
        "accounts",
        {
            **_record(),
            "name": _text("t.name"),
            "domain": _text("t.domain"),
            "industry": _text("t.industry"),
            "company_size": _text("t.company_size"),
            "annual_revenue": _money("t.annual_revenue"),
            "city": _text("t.address_city"),
            "country": _text("t.address_country"),
            "parent_id": _uuid("t.parent_id"),
            "owner_id": _uuid("t.owner_id"),
            "is_active": _bool("t.is_active"),
            "tags": _tags("t.tags"),
        },
    ),
    "contacts": Source(
        "contacts",
        {
            **_record(),
            "first_name": _text("t.first_name"),
            "last_name": _text("t.last_name"),
            "email": _text("t.email"),
            "title": _text("t.title"),
            "company": _text("t.company"),
            "account_id": _uuid("t.account_id"),
            "owner_id": _uuid("t.owner_id"),
            "lead_source": _text("t.lead_source"),
            "lead_status": _text("t.lead_status"),
            "lifecycle_stage": _text("t.lifecycle_stage"),
            "lead_score": _int("t.lead_score"),
            "city": _text("t.address_city"),
            "country": _text("t.address_country"),
            "is_active": _bool("t.is_active"),
            "tags": _tags("t.tags"),
            "last_contacted_at": _ts("t.last_contacted_at"),
        },
    ),
    "deals": Source(
        "deals",
        {
            **_record(),
            "name": _text("t.name"),
            "pipeline_id": _uuid("t.pipeline_id"),
            "stage_id": _uuid("t.stage_id"),
            "account_id": _uuid("t.account_id"),
            "contact_id": _uuid("t.contact_id"),
            "owner_id": _uuid("t.owner_id"),
            "amount": _money("t.amount"),
            "currency": _text("t.currency"),
            "probability": _int("t.probability"),
            "lead_source": _text("t.lead_source"),
            "is_closed": _bool("t.is_closed"),
            "is_won": _bool("t.is_won"),
            "lost_reason": _text("t.lost_reason"),
            "expected_close_date": _date("t.expected_close_date"),
            "actual_close_date": _date("t.actual_close_date"),
            "stage_entered_at": _ts("t.stage_entered_at"),
            "tags": _tags("t.tags"),
        },
    ),
    "deal_stage_history": Source(
        "deal_stage_history",
        {
            "id": _uuid("t.id"),
            "deal_id": _uuid("t.deal_id"),
            "from_stage_id": _uuid("t.from_stage_id"),
            "to_stage_id": _uuid("t.to_stage_id"),
            "changed_at": _ts("t.changed_at"),
            "changed_by": _uuid("t.changed_by"),
            "amount": _money("t.amount"),
            "probability": _int("t.probability"),
        },
        watermark="changed_at",
        soft_delete=False,
    ),
    "activities": Source(
        "activities",
        {
            **_record(),
            "type": _text("t.type"),
            "subject": _text("t.subject"),
            "direction": _text("t.direction"),
            "outcome": _text("t.outcome"),
            "duration_seconds": _int("t.duration_seconds"),
            "occurred_at": _ts("t.occurred_at"),
            "owner_id": _uuid("t.owner_id"),
            "contact_id": _uuid("t.contact_id"),
            "account_id": _uuid("t.account_id"),
            "deal_id": _uuid("t.deal_id"),
            # Its sentiment (a person's correction first), scored by the worker seconds after the change: the
            # load's overlap window re-reads recently changed activities, so the label arrives with them.
            "sentiment": _text("coalesce(s.corrected_label, s.label)"),
            "sentiment_score": _float("s.score"),
        },
        joins="LEFT JOIN text_sentiments s ON s.tenant_id = t.tenant_id AND s.entity_type = 'activities'"
        " AND s.entity_id = t.id",
    ),
    "tasks": Source(
        "tasks",
        {
            **_record(),
            "title": _text("t.title"),
            "priority": _text("t.priority"),
            "status": _text("t.status"),
            "assignee_id": _uuid("t.assignee_id"),
            "created_by": _uuid("t.created_by"),
            "due_at": _ts("t.due_at"),
            "completed_at": _ts("t.completed_at"),
            "contact_id": _uuid("t.contact_id"),
            "account_id": _uuid("t.account_id"),
            "deal_id": _uuid("t.deal_id"),
        },
    ),
}

# Tables whose rows a hard delete removes (found in the audit trail, which records every one of them).
HARD_DELETABLE = ("accounts", "contacts", "deals", "deal_stage_history", "activities", "tasks")

CHUNK_BYTES = 32 * 1024 * 1024  # CSV per piece of a streamed table (about 120,000 activities)


@dataclass
class Extracted:
    frame: pl.DataFrame
    bytes: int


@dataclass
class CsvPiece:
    """Part of a table's COPY output: whole rows, the header line first when `header`."""

    source: Source
    data: bytes
    header: bool

    def parsed(self) -> Extracted:
        return Extracted(parse(self.source, self.data, header=self.header), len(self.data))


def select_sql(source: Source, since: datetime | None) -> tuple[sql.Composed, list[Any]]:
    """The SELECT of a COPY: the source's columns, its tenant's rows (changed since `since`, when given)."""
    exprs = sql.SQL(", ").join(
        sql.SQL("{} AS {}").format(sql.SQL(expr), sql.Identifier(name)) for name, (expr, _) in source.columns.items()
    )
    where = [sql.SQL("t.tenant_id = %s")]
    params: list[Any] = []
    if since is not None and source.watermark is not None:
        where.append(sql.SQL("t.{} >= %s").format(sql.Identifier(source.watermark)))
        params.append(since)
    query = sql.SQL("SELECT {exprs} FROM {table} t {joins} WHERE {where}").format(
        exprs=exprs,
        table=sql.Identifier(source.table),
        joins=sql.SQL(source.joins),
        where=sql.SQL(" AND ").join(where),
    )
    return query, params


class Extractor:
    """Reads one tenant's tables from one snapshot. Use as `with Extractor.open(tenant_id) as ex: ...`."""

    def __init__(self, session: Session, tenant_id: UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self._conn: psycopg.Connection[Any] = session.connection().connection.driver_connection  # type: ignore[assignment]

    @classmethod
    @contextmanager
    def open(cls, tenant_id: UUID) -> Iterator[Extractor]:
        with unit_of_work(Actor.system(tenant_id)) as session:
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            conn = session.connection().connection.driver_connection
            conn.execute("SET TRANSACTION READ ONLY")
            yield cls(session, tenant_id)

    def stream(
        self, source: Source, since: datetime | None = None, *, chunk_bytes: int | None = None
    ) -> Iterator[Extracted]:
        """The source's rows (all of them, or those changed since `since`) as typed frames of about `chunk_bytes`
        (default `CHUNK_BYTES`) of CSV each, in the order the COPY sends them; at least one frame, maybe empty."""
        for piece in self.stream_csv(source, since, chunk_bytes=chunk_bytes):
            yield piece.parsed()

    def stream_csv(
        self, source: Source, since: datetime | None = None, *, chunk_bytes: int | None = None
    ) -> Iterator[CsvPiece]:
        """The COPY's CSV in pieces of about `chunk_bytes` (default `CHUNK_BYTES`), not parsed yet: receiving is
        kept apart from parsing so that a caller can parse one piece while the next arrives. A piece ends at
        the end of a row; the first one starts with the header line."""
        chunk_bytes = chunk_bytes or CHUNK_BYTES
        query, params = select_sql(source, since)
        statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, HEADER true)").format(query)
        buffer, header = io.BytesIO(), True
        pgconn = self._conn.pgconn
        # COPY takes no server-side parameters: psycopg binds these client-side, quoted as literals.
        with self._conn.cursor() as cur, cur.copy(statement, [self.tenant_id, *params]) as copy:
            # The server sends a row per message (the protocol says so for COPY TO), so a piece cut after a
            # message ends with a whole row. Rows already received are taken straight from libpq
            # (`get_copy_data` without waiting): psycopg's `read()` runs a generator and a wait per row, which
            # cost more CPU than the server spent producing the row. `read()` is used only when libpq has
            # nothing ready, to wait for the next row (and to end the COPY, if that comes first).
            get, write, size = pgconn.get_copy_data, buffer.write, buffer.tell
            while True:
                nbytes, row = get(1)
                if nbytes > 0:
                    write(row)
                elif nbytes == 0:
                    waited = copy.read()
                    if not waited:
                        break
                    write(waited)
                else:  # the end of the COPY, taken from libpq here: its result too
                    _end_copy_out(pgconn, self._conn.info.encoding)
                    break
                if size() >= chunk_bytes:
                    yield CsvPiece(source, buffer.getvalue(), header)
                    buffer, header = io.BytesIO(), False
                    write, size = buffer.write, buffer.tell
        yield CsvPiece(source, buffer.getvalue(), header)

    def deleted_ids(self, since: datetime | None) -> dict[str, list[str]]:
        """Ids hard-deleted (per table) since `since`, from the audit trail."""
        rows = self._conn.execute(
            "SELECT entity_type, entity_id::text FROM audit_logs WHERE tenant_id = %s AND action = 'hard_delete'"
            " AND entity_type = ANY(%s) AND entity_id IS NOT NULL" + (" AND created_at >= %s" if since else ""),
            [self.tenant_id, list(HARD_DELETABLE), *([since] if since else [])],
        ).fetchall()
        out: dict[str, list[str]] = {}
        for table, entity_id in rows:
            out.setdefault(table, []).append(entity_id)
        return out

    def tenant(self) -> dict[str, Any]:
        row = self._conn.execute(
            "SELECT timezone, settings, now() FROM tenants WHERE id = %s", [self.tenant_id]
        ).fetchone()
        if row is None:
            raise LookupError(f"tenant {self.tenant_id} not found")
        return {"timezone": row[0] or "UTC", "settings": row[1] or {}, "now": row[2]}


def _end_copy_out(pgconn: pq.abc.PGconn, encoding: str) -> None:
    """Finish a COPY TO whose end `get_copy_data` returned: wait for its closing result, raise its error if it
    failed (as psycopg's own `Copy.read()` would)."""
    with selectors.DefaultSelector() as selector:
        selector.register(pgconn.socket, selectors.EVENT_READ)
        pgconn.consume_input()
        while pgconn.is_busy():
            selector.select()
            pgconn.consume_input()
    results = []
    while (result := pgconn.get_result()) is not None:
        results.append(result)
    for result in results:
        if result.status != pq.ExecStatus.COMMAND_OK:
            raise psycopg.errors.error_from_result(result, encoding=encoding)


def _raw_type(kind: pl.DataType) -> pl.DataType:
    """How a column arrives in the CSV: integers for timestamps, flags and counts, text for the rest."""
    return pl.Int64() if isinstance(kind, pl.Datetime | pl.Boolean | pl.Int64) else pl.String()


def parse(source: Source, data: bytes, *, header: bool = True) -> pl.DataFrame:
    """CSV from COPY (with its header line, or a later piece without it) into a frame of the source's types."""
    names = list(source.columns)
    raw_types = {name: _raw_type(kind) for name, (_, kind) in source.columns.items()}
    if not data or data.isspace():  # (not strip(): that would copy a large piece)
        frame = pl.DataFrame(schema=raw_types)
    else:
        frame = pl.read_csv(io.BytesIO(data), schema=raw_types, has_header=header)
    casts = []
    for name, (_, kind) in source.columns.items():
        column = pl.col(name)
        if isinstance(kind, pl.Datetime):
            casts.append(pl.from_epoch(column, time_unit="us").dt.replace_time_zone("UTC").alias(name))
        elif isinstance(kind, pl.Boolean):
            casts.append(column.cast(pl.Boolean).alias(name))
        elif isinstance(kind, pl.Decimal):
            casts.append(column.cast(kind).alias(name))
        elif isinstance(kind, pl.Date):
            casts.append(column.str.to_date("%Y-%m-%d").alias(name))
        elif isinstance(kind, pl.List):
            casts.append(column.str.json_decode(kind).alias(name))
    return frame.with_columns(casts).select(names) if casts else frame.select(names)
