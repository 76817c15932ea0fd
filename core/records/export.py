"""Export of a record list to CSV or XLSX: every row the list would show, streamed with constant memory.

An export reads what the record type's list reads: the same readable statement (tenant and own/team/all
scope), the same query language (filters, `sort`, `search`, `fields=`, and the same 400 naming unknown
names), but all of it. Rows come in keyset batches of `BATCH_SIZE` through the list's cursor machinery
(`query.page` with a cursor: never OFFSET, never every row at once), each batch's custom field values in one
query, and each batch is written out as it arrives. `page`, `limit` and `cursor` are ignored.

The API's request session is closed before a streamed body is sent, so an export reads in a session of its
own, bound to the actor's tenant (the app role: row-level security applies), in one REPEATABLE READ, READ ONLY
transaction, so that every batch sees the same snapshot. `start` makes the permission checks, parses the
query and runs the first batch before it returns: a bad filter raises there, while the caller can still
answer with a proper error. The returned iterator yields the file; it may run its steps in different
threads, one after the other, and must be closed (or read to the end) to release its session.

Columns are the list's JSON names (`id, firstName, ...`), then `cf.<field_name>` for each custom field: the
headers the import recognises, so an export re-imports. Cells: dates and times in ISO 8601, booleans `true`
and `false`, lists joined with "; ", null empty. Text that starts with = + - @, a tab or a carriage return
gets a leading apostrophe in both formats (OWASP's advice against formula injection: a spreadsheet must never
run a cell as a formula). CSV is UTF-8 with a BOM (Excel then reads it as UTF-8), quoted as RFC 4180 says.
XLSX is written by XlsxWriter in constant-memory mode to a temporary file that is streamed and then deleted;
numbers are number cells, line breaks are LF (CR would be stored as `_x000D_`), a cell holds at most 32,767
characters (Excel's limit) and a sheet at most 1,048,575 rows, so a larger XLSX export is refused up front
(CSV has none of these limits).

When the file is done, or the client goes away, an event `<entity>.exported` records who exported how many
rows, in which format, with which query, and whether the file was complete (the audit module records auth
events only; see `_record`).
"""

from __future__ import annotations

import csv
import io
import logging
import os
import tempfile
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import xlsxwriter
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from core.actor import Actor
from core.custom_fields import service as custom_fields
from core.db import RequestContext, current_context, reset_context, set_context, unit_of_work
from core.errors import ValidationFailed
from core.events.service import emit
from core.records import query as q

log = logging.getLogger(__name__)

FileFormat = Literal["csv", "xlsx"]
BATCH_SIZE = 1000
XLSX_MAX_ROWS = 1_048_575  # a sheet's 1,048,576 rows, less the header
XLSX_MAX_CELL = 32_767
CHUNK_BYTES = 64 * 1024
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
LIST_SEPARATOR = "; "
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
IGNORED_PARAMS = ("page", "limit", "cursor", "format")
_BOM = "\ufeff".encode()

SpecSource = Callable[[Session, Actor], Mapping[str, q.FieldSpec]]
BatchSerializer = Callable[[Session, Actor, list[Any]], list[dict[str, Any]]]


@dataclass(frozen=True)
class RecordExport:
    """How one record type exports: what its list reads and how a batch of its records becomes rows.

    `statement(actor)` selects the model first (plus the list's joins), limited to what the actor may read;
    `specs(session, actor)` are the list's field specs, custom fields included; `columns` the API names of
    the fixed columns in order; `serialize(session, actor, records)` the records' list JSON (custom field
    values under `customFields`), in one go per batch. `leading_sort` comes before the client's sort (notes:
    pinned first), as in the list.
    """

    entity_type: str
    event: str
    model: Any
    statement: Callable[[Actor], Select[Any]]
    specs: SpecSource
    columns: Sequence[str]
    serialize: BatchSerializer
    search_column: Any = None
    default_sort: str = "-createdAt"
    leading_sort: tuple[tuple[q.FieldSpec, bool], ...] = ()


def columns_of(schema: type[BaseModel]) -> tuple[str, ...]:
    """The API names of a read schema's fields, in order, without `customFields` (one column per field)."""
    return tuple(info.alias or name for name, info in schema.model_fields.items() if name != "custom_fields")


def fixed_specs(specs: Mapping[str, q.FieldSpec]) -> SpecSource:
    """The specs of a record type without custom fields."""
    return lambda session, actor: specs


def with_custom_field_specs(specs: Mapping[str, q.FieldSpec], entity_type: str, id_column: Any) -> SpecSource:
    """`specs` plus a `cf.<name>` spec per custom field of the record type (as `listing.list_page` merges them)."""

    def merged(session: Session, actor: Actor) -> Mapping[str, q.FieldSpec]:
        return {**specs, **custom_fields.field_specs(session, actor, entity_type, id_column)}

    return merged


def each(to_json: Callable[[Any], dict[str, Any]]) -> BatchSerializer:
    """A batch serializer from a per-record one, for record types without custom fields."""
    return lambda session, actor, records: [to_json(record) for record in records]


def each_with_custom_fields(
    serialize: Callable[[Any, dict[str, Any]], dict[str, Any]], entity_type: str
) -> BatchSerializer:
    """A batch serializer from `serialize(record, custom_values)`: the batch's values in one query."""

    def batch(session: Session, actor: Actor, records: list[Any]) -> list[dict[str, Any]]:
        values = custom_fields.values_for(session, actor, entity_type, [r.id for r in records])
        return [serialize(record, values.get(record.id, {})) for record in records]

    return batch


# Cells -------------------------------------------------------------------------------------------------


def neutralise(text: str) -> str:
    """A leading apostrophe for text a spreadsheet would take for a formula (OWASP CSV injection advice)."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return LIST_SEPARATOR.join(_plain(v) for v in value)
    return str(value)


def cell_text(value: Any) -> str:
    """A value as CSV text: numbers as they are, text (and lists of it) neutralised."""
    if value is None or isinstance(value, (bool, int, float, Decimal)):
        return _plain(value)
    return neutralise(_plain(value))


# Reading -----------------------------------------------------------------------------------------------


@dataclass
class _Table:
    columns: list[str]
    numeric: frozenset[str]
    batches: Iterator[list[dict[str, Any]]]

    def values(self, item: Mapping[str, Any]) -> list[Any]:
        custom = item.get("customFields") or {}
        return [custom.get(c[3:]) if c.startswith("cf.") else item.get(c) for c in self.columns]


@dataclass
class _Progress:
    rows: int = 0
    complete: bool = False
    started: bool = False


@contextmanager
def _snapshot(actor: Actor) -> Iterator[Session]:
    """The export's own unit of work: the actor's tenant, one read-only snapshot for all batches."""
    with unit_of_work(actor) as session:
        session.connection(execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True})
        yield session


def _parse(
    session: Session, actor: Actor, source: RecordExport, params: Mapping[str, Sequence[str]]
) -> tuple[q.ListQuery, Mapping[str, q.FieldSpec]]:
    wanted = {k: v for k, v in params.items() if k not in IGNORED_PARAMS}
    bad = [k for k, values in wanted.items() if "\x00" in k or any("\x00" in v for v in values)]
    if bad:
        raise ValidationFailed(
            f"Invalid list query: {', '.join(k.replace(chr(0), '') for k in bad)}",
            details=[{"field": k.replace("\x00", ""), "message": "contains a NUL character"} for k in bad],
        )
    specs = source.specs(session, actor)
    try:
        query = q.parse(wanted, specs, default_sort=source.default_sort)
    except ValueError as exc:  # a value the parser let through unchecked
        raise ValidationFailed(f"Invalid list query: {exc}", details=[{"field": "query", "message": str(exc)}]) from exc
    query.sort[0:0] = list(source.leading_sort)
    return query, specs


def _columns(source: RecordExport, specs: Mapping[str, q.FieldSpec], fields: list[str] | None) -> list[str]:
    fixed = [c for c in source.columns if fields is None or c in fields]
    custom = [
        name
        for name in specs
        if name.startswith("cf.") and (fields is None or name in fields or "customFields" in fields)
    ]
    return fixed + custom


def _batches(
    session: Session,
    actor: Actor,
    source: RecordExport,
    statement: Select[Any],
    query: q.ListQuery,
    id_spec: q.FieldSpec,
    batch_size: int,
) -> Iterator[list[dict[str, Any]]]:
    """Keyset batches in the list's order: each query continues after the last row of the one before."""
    query.cursor, query.limit = "", batch_size
    while True:
        found = q.page(session, statement, query, id_spec=id_spec)
        records = [row[0] for row in found.rows]
        if records:
            yield source.serialize(session, actor, records)
        if found.next_cursor is None:
            return
        query.cursor = found.next_cursor
        session.expunge_all()  # the batch is written: nothing of it stays in memory


def _open(
    session: Session,
    actor: Actor,
    source: RecordExport,
    params: Mapping[str, Sequence[str]],
    file_format: FileFormat,
    batch_size: int,
) -> _Table:
    """Parse, check and run the first batch: everything that can be the client's fault fails here."""
    query, specs = _parse(session, actor, source, params)
    statement = q.apply(source.statement(actor), query, id_column=source.model.id, search_column=source.search_column)
    for spec, _ in query.sort:  # the cursor reads sort keys from labelled columns (custom fields, joins, ranks)
        if spec.name != "id":
            statement = statement.add_columns(spec.expression.label(spec.name))
    try:
        if file_format == "xlsx":
            capped = statement.order_by(None).limit(XLSX_MAX_ROWS + 1).subquery()
            if (session.scalar(select(func.count()).select_from(capped)) or 0) > XLSX_MAX_ROWS:
                raise ValidationFailed(
                    f"More than {XLSX_MAX_ROWS:,} rows do not fit in an XLSX sheet: export as CSV "
                    "(format=csv) or narrow the filters",
                    details=[{"field": "format", "message": f"xlsx holds at most {XLSX_MAX_ROWS} rows"}],
                )
        batches = _batches(session, actor, source, statement, query, specs["id"], batch_size)
        first = next(batches, None)
    except DataError as exc:  # a value outside its column's range: the unit of work rolls back
        raise ValidationFailed(
            "Invalid list query: a filter value is out of range for its field",
            details=[{"field": "query", "message": "value out of range"}],
        ) from exc
    numeric = frozenset(name for name, spec in specs.items() if spec.type in ("int", "decimal"))
    rest: Iterable[list[dict[str, Any]]] = batches if first is None else _chain(first, batches)
    return _Table(_columns(source, specs, query.fields), numeric, iter(rest))


def _chain(first: list[dict[str, Any]], rest: Iterator[list[dict[str, Any]]]) -> Iterator[list[dict[str, Any]]]:
    yield first
    yield from rest


# Writing -----------------------------------------------------------------------------------------------


def _csv(table: _Table, progress: _Progress) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # RFC 4180: CRLF line ends; quotes, separators and line breaks quoted
    writer.writerow(table.columns)
    yield _BOM + buffer.getvalue().encode("utf-8")
    for batch in table.batches:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([cell_text(v) for v in table.values(item)] for item in batch)
        progress.rows += len(batch)
        yield buffer.getvalue().encode("utf-8")


def _xlsx_cell(sheet: Any, row: int, col: int, value: Any, numeric: bool) -> None:
    if value is None:
        return
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        sheet.write_number(row, col, float(value) if isinstance(value, Decimal) else value)
        return
    if numeric and isinstance(value, str):
        try:
            sheet.write_number(row, col, float(Decimal(value)))
            return
        except (InvalidOperation, ValueError):
            pass
    text = cell_text(value).replace("\r\n", "\n").replace("\r", "\n")  # a line break in a cell is LF
    sheet.write_string(row, col, text[:XLSX_MAX_CELL])


def _xlsx(table: _Table, sheet_name: str, progress: _Progress) -> str:
    """Write the whole sheet to a temporary file (XlsxWriter keeps one row in memory); returns its path."""
    handle, path = tempfile.mkstemp(prefix="clientforge-export-", suffix=".xlsx")
    os.close(handle)
    try:
        workbook = xlsxwriter.Workbook(
            path,
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
                "tmpdir": tempfile.gettempdir(),
            },
        )
        sheet = workbook.add_worksheet(sheet_name[:31])
        bold = workbook.add_format({"bold": True})
        sheet.freeze_panes(1, 0)
        for col, name in enumerate(table.columns):
            sheet.write_string(0, col, name, bold)
        row = 0
        for batch in table.batches:
            for item in batch:
                row += 1
                for col, value in enumerate(table.values(item)):
                    _xlsx_cell(sheet, row, col, value, table.columns[col] in table.numeric)
            progress.rows += len(batch)
        sheet.autofilter(0, 0, row, max(len(table.columns) - 1, 0))
        workbook.close()
    except BaseException:
        os.unlink(path)
        raise
    return path


def _file_chunks(path: str) -> Iterator[bytes]:
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            yield chunk


# The export ----------------------------------------------------------------------------------------------


@dataclass
class ExportFile:
    """A started export: iterate `chunks` once for the file's bytes; `close()` it if you stop early."""

    filename: str
    media_type: str
    chunks: Generator[bytes, None, None]


def start(
    actor: Actor,
    source: RecordExport,
    params: Mapping[str, Sequence[str]],
    *,
    file_format: FileFormat,
    batch_size: int = BATCH_SIZE,
) -> ExportFile:
    """Begin an export of the records `params` select (the list's query string). Permission, query and
    first-batch errors raise here, before any byte of the file exists (an XLSX file is complete only at its
    end, so its whole sheet is written here). Needs `<entity>:read` and `<entity>:export`."""
    actor.require(source.entity_type, "read")
    actor.require(source.entity_type, "export")
    if file_format not in MEDIA_TYPES:
        raise ValidationFailed(
            f"Unknown export format {file_format!r}: use csv or xlsx",
            details=[{"field": "format", "message": "csv or xlsx"}],
        )
    chunks = _export(actor, source, params, file_format, batch_size)
    next(chunks)  # runs the checks and the first query
    today = datetime.now(UTC).date().isoformat()
    return ExportFile(f"{source.entity_type}-{today}.{file_format}", MEDIA_TYPES[file_format], chunks)


def _export(
    actor: Actor,
    source: RecordExport,
    params: Mapping[str, Sequence[str]],
    file_format: FileFormat,
    batch_size: int,
) -> Generator[bytes, None, None]:
    """Yields b"" once the export is known to be good (see `start`), then the file."""
    context = current_context()
    progress = _Progress()
    try:
        if file_format == "csv":
            with _snapshot(actor) as session:
                table = _open(session, actor, source, params, file_format, batch_size)
                progress.started = True
                yield b""
                yield from _csv(table, progress)
        else:
            with _snapshot(actor) as session:
                table = _open(session, actor, source, params, file_format, batch_size)
                path = _xlsx(table, source.entity_type, progress)
            try:
                progress.started = True
                yield b""
                yield from _file_chunks(path)
            finally:
                os.unlink(path)
        progress.complete = True
    finally:
        if progress.started:
            _record(actor, source, file_format, params, progress, context)


def _record(
    actor: Actor,
    source: RecordExport,
    file_format: FileFormat,
    params: Mapping[str, Sequence[str]],
    progress: _Progress,
    context: RequestContext,
) -> None:
    """`<entity>.exported` in a unit of work of its own (the export's snapshot is read-only and may be gone).

    An event rather than an audit log row: the audit module writes rows for data changes (triggers) and
    for auth events only (`record_auth_event`, entity type "auth"); an export changes no row and is no auth
    event. A failure to record is logged, not raised: the bytes have left by then.
    """
    query = {k: [v[:200] for v in values[:20]] for k, values in params.items() if k not in IGNORED_PARAMS}
    token = set_context(context)
    try:
        with unit_of_work(actor) as session:
            emit(
                session,
                actor,
                source.event,
                entity_type=source.entity_type,
                payload={
                    "format": file_format,
                    "rows": progress.rows,
                    "complete": progress.complete,
                    "query": query,
                },
            )
    except Exception:
        log.exception("could not record %s (%s rows)", source.event, progress.rows)
    finally:
        reset_context(token)
