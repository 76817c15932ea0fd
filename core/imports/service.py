"""Imports of contacts and accounts from CSV and XLSX files, run as jobs.

`create` checks the file (format, encoding, delimiter, header, data rows, limits) and the column mapping,
stores the file in PostgreSQL (so that any worker can run it and it survives restarts) and queues the job
`imports.run` in the caller's transaction; a file that cannot be imported is a 400 and nothing is stored.
`preview` does the same checks and stores nothing. `run` (the job) reads the stored file in batches; each
batch's records, row results, counts and checkpoint commit together, so a killed import resumes after its
last committed batch and no row is imported twice. The stored file is deleted when the import finishes.

Permissions: `imports:create` and `<entity>:import` and `<entity>:create` to start one (`<entity>:update`
too with the duplicate policy `update`); `imports:read` to read them, with the record scope of jobs (own,
team, all) over who started each import.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from core.actor import Actor
from core.config import get_settings
from core.custom_fields import service as custom_fields
from core.errors import DomainError, NotFound, ValidationFailed
from core.ids import new_id
from core.imports import mapping, reader
from core.imports.batch import Batch, Outcome, Plan, Row, insert_rows, load_plan, parse_batch, raw_key
from core.imports.models import IMPORT_ENTITIES, Import, ImportFile, ImportRow
from core.imports.schemas import ImportOptions, ImportPreview, ImportRead, ImportRowRead
from core.jobs import service as jobs
from core.jobs.models import Job
from core.jobs.registry import JobContext

JOB_KIND = "imports.run"
BATCH_ROWS = 2_000
_ASYNC_COMMIT = text("SET LOCAL synchronous_commit = off")
TERMINAL = frozenset({"completed", "failed", "cancelled"})


# Checking a file -------------------------------------------------------------------------------------------


def _require(actor: Actor, options: ImportOptions) -> None:
    actor.require("imports", "create")
    actor.require(options.entity_type, "import")
    actor.require(options.entity_type, "create")
    if options.duplicate_policy == "update":
        actor.require(options.entity_type, "update")


def check_size(size: int) -> None:
    """Refuse a file over `import_max_bytes` (the API refuses larger bodies before reading them)."""
    limit = get_settings().import_max_bytes
    if size > limit:
        megabytes = f" ({limit / 1048576:.0f} MB)" if limit >= 1048576 else ""
        message = f"The file is {size:,} bytes; imports are limited to {limit:,} bytes{megabytes}"
        raise ValidationFailed(message, code="FILE_TOO_LARGE", details=[{"field": "file", "message": message}])


def _custom(session: Session, actor: Actor, entity_type: str) -> list[mapping.CustomFieldInfo]:
    return [
        mapping.CustomFieldInfo(f.field_name, f.field_label, f.field_type, tuple(f.field_options or ()), f.is_required)
        for f in custom_fields.definitions(session, actor, entity_type)
    ]


def _examine(
    session: Session, actor: Actor, data: bytes, options: ImportOptions, *, require_columns: bool = True
) -> tuple[reader.Inspection, mapping.Resolution]:
    check_size(len(data))
    inspection = reader.inspect(data)
    resolution = mapping.resolve(
        inspection.headers, options.entity_type, _custom(session, actor, options.entity_type), options.mapping
    )
    if require_columns and not resolution.columns:
        message = (
            f"No column of the file matches a {options.entity_type} field; map the columns yourself "
            f"(headers: {', '.join(inspection.headers)[:500]})"
        )
        raise ValidationFailed(message, code="NO_RECOGNISED_COLUMNS", details=[{"field": "file", "message": message}])
    return inspection, resolution


def _missing(resolution: mapping.Resolution, entity_type: str) -> list[str]:
    mapped = {c.field for c in resolution.columns}
    return [f for f in mapping.required_fields(entity_type) if f not in mapped]


def _detected(source: reader.Source) -> dict[str, Any]:
    return {
        "format": source.format,
        "encoding": source.encoding,
        "has_bom": source.has_bom,
        "delimiter": source.delimiter,
    }


def importable_fields(session: Session, actor: Actor, entity_type: str) -> dict[str, str]:
    """Every field a column of a `entity_type` import may map to (`firstName`, `cf.<name>`) with a label for a
    mapping form, required fields first and marked, then the record type's custom fields."""
    actor.require("imports", "create")
    if entity_type not in IMPORT_ENTITIES:
        message = f"Imports take {' or '.join(IMPORT_ENTITIES)}"
        raise ValidationFailed(message, details=[{"field": "entityType", "message": message}])
    required = mapping.required_fields(entity_type)
    fields = {name: f"{_words(name)} (required)" for name in required}
    fields.update({name: _words(name) for name in mapping.entity_fields(entity_type) if name not in fields})
    for custom in _custom(session, actor, entity_type):
        fields[f"{mapping.CUSTOM_PREFIX}{custom.name}"] = f"{custom.label} (custom field)"
    return fields


def _words(field: str) -> str:
    """`addressPostalCode` -> `Address postal code`."""
    return "".join(f" {c.lower()}" if c.isupper() else c for c in field).capitalize()


def preview(
    session: Session, actor: Actor, data: bytes, options: ImportOptions, *, require_columns: bool = True
) -> ImportPreview:
    """What importing this file would do (detection, mapping, first rows); stores nothing. A file none of whose
    headers is recognised is refused unless `require_columns=False` (a form where the user maps the columns)."""
    _require(actor, options)
    inspection, resolution = _examine(session, actor, data, options, require_columns=require_columns)
    width = len(inspection.headers)
    return ImportPreview(
        entity_type=options.entity_type,
        file=_detected(inspection.source),  # type: ignore[arg-type]
        headers=inspection.headers,
        mapping=resolution.mapping(),
        unmapped=resolution.unmapped,
        missing_required=_missing(resolution, options.entity_type),
        total_rows=inspection.total_rows,
        rows=[(cells + [""] * width)[: max(width, len(cells))] for _, cells in inspection.sample],
    )


def create(
    session: Session, actor: Actor, data: bytes, options: ImportOptions, *, file_name: str | None = None
) -> Import:
    """Store the file and queue its import (in the caller's transaction), or refuse it with a 400."""
    _require(actor, options)
    inspection, resolution = _examine(session, actor, data, options)
    missing = _missing(resolution, options.entity_type)
    if missing and options.duplicate_policy != "update":
        message = f"No column maps to the required field(s) {', '.join(missing)}; map one in `mapping`"
        raise ValidationFailed(
            message, code="REQUIRED_COLUMNS_MISSING", details=[{"field": f, "message": "required"} for f in missing]
        )
    source = inspection.source
    record = Import(
        id=new_id(),
        tenant_id=actor.tenant_id,
        entity_type=options.entity_type,
        duplicate_policy=options.duplicate_policy,
        status="queued",
        file_name=(file_name or "").replace("\x00", "")[:255] or None,
        file_format=source.format,
        file_size=len(data),
        encoding=source.encoding,
        has_bom=source.has_bom,
        delimiter=source.delimiter,
        headers=inspection.headers,
        columns=[c.as_dict() for c in resolution.columns],
        unmapped=resolution.unmapped,
        total_rows=inspection.total_rows,
        created_by=actor.user_id,
    )
    session.add(record)
    session.flush()
    session.execute(insert(ImportFile).values(import_id=record.id, tenant_id=actor.tenant_id, data=data))
    job = jobs.enqueue(session, actor, JOB_KIND, {"import_id": str(record.id)})
    record.job_id = job.id
    session.flush()
    return record


# Reading ---------------------------------------------------------------------------------------------------


def get(session: Session, actor: Actor, import_id: UUID) -> Import:
    actor.require("imports", "read")
    record = session.scalar(actor.readable(Import).where(Import.id == import_id))
    if record is None:
        raise NotFound("Import not found")
    return record


def list_imports(session: Session, actor: Actor, *, limit: int = 20, offset: int = 0) -> tuple[list[Import], int]:
    """Newest first, with the total."""
    actor.require("imports", "read")
    statement = actor.readable(Import)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = session.scalars(statement.order_by(Import.created_at.desc(), Import.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def list_rows(
    session: Session, actor: Actor, import_id: UUID, *, outcome: str = "failed", limit: int = 50, offset: int = 0
) -> tuple[list[ImportRowRead], int]:
    """The import's failed (or skipped) rows in file order, with their total."""
    get(session, actor, import_id)
    statement = select(ImportRow).where(
        ImportRow.tenant_id == actor.tenant_id, ImportRow.import_id == import_id, ImportRow.outcome == outcome
    )
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = session.scalars(
        statement.order_by(ImportRow.row_number, ImportRow.created_at, ImportRow.id).limit(limit).offset(offset)
    )
    return [
        ImportRowRead(
            row=r.row_number,
            field=r.field,
            column=r.column,
            message=r.message,
            values=r.values,
            existing_id=r.record_id,
        )
        for r in rows
    ], total


def _job_states(session: Session, records: list[Import]) -> dict[UUID, tuple[str, str | None]]:
    ids = [r.job_id for r in records if r.job_id is not None and r.status not in TERMINAL]
    if not ids:
        return {}
    statement = select(Job.id, Job.status, Job.error).where(Job.id.in_(ids))
    return {row.id: (row.status, row.error) for row in session.execute(statement)}


def to_reads(session: Session, records: list[Import]) -> list[ImportRead]:
    """The imports as users see them. An import whose job gave up (or was cancelled) before it finished is
    failed (cancelled), with the job's error."""
    states = _job_states(session, records)
    reads = []
    for record in records:
        status, error = record.status, record.error
        job_status, job_error = states.get(record.job_id, (None, None)) if record.job_id else (None, None)
        if status not in TERMINAL and job_status in ("failed", "cancelled"):
            status = job_status
            error = error or job_error
        total = record.total_rows
        reads.append(
            ImportRead(
                id=record.id,
                job_id=record.job_id,
                entity_type=record.entity_type,  # type: ignore[arg-type]
                duplicate_policy=record.duplicate_policy,  # type: ignore[arg-type]
                status=status,  # type: ignore[arg-type]
                file_name=record.file_name,
                file={  # type: ignore[arg-type]
                    "format": record.file_format,
                    "encoding": record.encoding,
                    "has_bom": record.has_bom,
                    "delimiter": record.delimiter,
                },
                file_size=record.file_size,
                mapping={c["header"]: c["field"] for c in record.columns},
                unmapped=list(record.unmapped),
                progress={  # type: ignore[arg-type]
                    "done": record.processed_rows,
                    "total": total,
                    "percent": 100 * record.processed_rows // total if total else 100,
                },
                counts={  # type: ignore[arg-type]
                    "created": record.created_count,
                    "updated": record.updated_count,
                    "skipped": record.skipped_count,
                    "failed": record.failed_count,
                },
                error=error,
                created_by=record.created_by,
                created_at=record.created_at,
                started_at=record.started_at,
                finished_at=record.finished_at,
                updated_at=record.updated_at,
            )
        )
    return reads


def to_read(session: Session, record: Import) -> ImportRead:
    return to_reads(session, [record])[0]


# Running (the job) -----------------------------------------------------------------------------------------


def _load(session: Session, actor: Actor, import_id: UUID) -> Import | None:
    return session.scalar(select(Import).where(Import.tenant_id == actor.tenant_id, Import.id == import_id))


def _finish(session: Session, actor: Actor, import_id: UUID, *, status: str, error: str | None = None) -> None:
    """End the import: its final status, and its stored file deleted."""
    session.execute(
        update(Import)
        .where(Import.tenant_id == actor.tenant_id, Import.id == import_id)
        .values(status=status, error=error, finished_at=func.now())
    )
    session.execute(
        delete(ImportFile).where(ImportFile.tenant_id == actor.tenant_id, ImportFile.import_id == import_id)
    )


def _summary(record: Import) -> dict[str, Any]:
    return {
        "importId": str(record.id),
        "status": record.status,
        "rows": record.processed_rows,
        "created": record.created_count,
        "updated": record.updated_count,
        "skipped": record.skipped_count,
        "failed": record.failed_count,
    }


def _record(session: Session, actor: Actor, import_id: UUID, outcome: Outcome) -> None:
    """The batch's row results and counts, in the batch's transaction."""
    insert_rows(session, ImportRow.__table__, outcome.results)  # type: ignore[arg-type]
    session.execute(
        update(Import)
        .where(Import.tenant_id == actor.tenant_id, Import.id == import_id)
        .values(
            processed_rows=Import.processed_rows + outcome.rows,
            created_count=Import.created_count + outcome.created,
            updated_count=Import.updated_count + outcome.updated,
            skipped_count=Import.skipped_count + outcome.skipped,
            failed_count=Import.failed_count + outcome.failed,
        )
    )


def _data_rows(source: reader.Source, *, after: int, start: int) -> Iterator[tuple[int, list[str]]]:
    """Non-blank data rows from row `start` on (the header is row `after`)."""
    for number, cells in reader.records(source):
        if number > after and number >= start and not reader.is_blank(cells):
            yield number, cells


def _batches(rows: Iterable[tuple[int, list[str]]], size: int) -> Iterator[list[tuple[int, list[str]]]]:
    batch: list[tuple[int, list[str]]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def run(ctx: JobContext, *, batch_rows: int | None = None) -> dict[str, Any]:
    """The job: import the stored file in batches, each batch committed with its checkpoint (the next row),
    counts and row results, so that a rerun resumes after the last committed batch."""
    import_id = UUID(str(ctx.params["import_id"]))
    actor = ctx.actor
    with ctx.unit_of_work() as session:
        record = _load(session, actor, import_id)
        if record is None:
            return {"importId": str(import_id), "status": "missing"}
        if record.status in TERMINAL:
            return _summary(record)
        stored = session.get(ImportFile, import_id)
        try:
            if stored is None:
                raise ValidationFailed("The uploaded file is no longer stored; upload it again")
            _require(
                actor,
                ImportOptions(entity_type=record.entity_type, duplicate_policy=record.duplicate_policy),  # type: ignore[arg-type]
            )
        except DomainError as exc:
            _finish(session, actor, import_id, status="failed", error=exc.message)
            return {"importId": str(import_id), "status": "failed", "error": exc.message}
        plan = load_plan(
            session,
            actor,
            import_id=import_id,
            entity_type=record.entity_type,
            policy=record.duplicate_policy,
            headers=list(record.headers),
            columns=list(record.columns),
        )
        source = reader.Source(
            data=stored.data,
            format=record.file_format,
            encoding=record.encoding,
            has_bom=record.has_bom,
            delimiter=record.delimiter,
        )
        total = record.total_rows
        if record.status == "queued":
            record.status, record.started_at = "running", datetime.now(UTC)

    header_row = _header_row(source)

    start = int((ctx.checkpoint or {}).get("next_row", 0))
    done = int((ctx.checkpoint or {}).get("done", 0))
    with _import_tuning():
        if plan.policy != "create":
            # The duplicate keys of every row still to import, looked up at once rather than batch by batch.
            duplicates = plan.duplicates
            with ctx.unit_of_work() as session:
                rows = _data_rows(source, after=header_row, start=start)
                keys = (k for _, cells in rows for k in duplicates.keys(raw_key(plan, cells)))
                duplicates.load(session, actor, keys)
        done = _run_batches(
            ctx, plan, source, header_row=header_row, start=start, done=done, total=total, batch_rows=batch_rows
        )
    with ctx.unit_of_work() as session:
        _finish(session, actor, import_id, status="completed")
        ctx.save(session, progress=100, message=f"{done}/{total} rows")
        record = _load(session, actor, import_id)
        assert record is not None
        return _summary(record)


def _run_batches(
    ctx: JobContext,
    plan: Plan,
    source: reader.Source,
    *,
    header_row: int,
    start: int,
    done: int,
    total: int,
    batch_rows: int | None,
) -> int:
    """Import the rows from `start` on, batch by batch; returns the number of rows done."""
    actor, import_id = ctx.actor, plan.import_id
    batches = _batches(_data_rows(source, after=header_row, start=start), batch_rows or BATCH_ROWS)

    def parse_next() -> list[Row] | None:
        rows = next(batches, None)
        return parse_batch(plan, rows) if rows is not None else None

    # One thread parses and validates the next batch (Python) while this one waits on the database.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-parse") as parser:
        upcoming = parser.submit(parse_next)
        while (parsed := upcoming.result()) is not None:
            upcoming = parser.submit(parse_next)
            with ctx.unit_of_work() as session:
                # A batch commits without waiting for its WAL flush: a crash can lose only whole batches
                # together with their checkpoint (one transaction), which the resumed job then redoes.
                session.execute(_ASYNC_COMMIT)
                outcome = Batch(session, actor, plan).run(parsed)
                _record(session, actor, import_id, outcome)
                done += len(parsed)
                ctx.save(
                    session,
                    checkpoint={"next_row": parsed[-1].number + 1, "done": done},
                    progress=min(99, 100 * done // total) if total else 99,
                    message=f"{done}/{total} rows",
                )
    return done


_tuning_lock = threading.Lock()
_tuning_users = 0
_gc_threshold: tuple[int, int, int] | None = None
_switch_interval: float | None = None
GC_YOUNG_THRESHOLD = 50_000
SWITCH_INTERVAL_SECONDS = 0.0005


@contextmanager
def _import_tuning() -> Iterator[None]:
    """The process's garbage collector and thread switching, set for imports while any runs; the last import
    to finish restores both.

    - An import allocates millions of short-lived objects; with the default thresholds the cyclic garbage
      collector runs a full collection over the whole process (every module's objects) every few hundred rows,
      which costs as much as the import itself. The objects that existed before are frozen (left out of
      collections) and the young generation is collected every 50,000 allocations rather than 700. Nothing is
      left uncollected: unfrozen objects are collected as before, only less often.
    - The writing thread waits on the database a dozen times a batch while the parsing thread computes; with
      the default 5 ms switch interval each return from the database waits up to 5 ms for the interpreter
      lock (measured: 4,300 rows/s at 5 ms, 5,200-5,600 at 0.5 ms on 2 cores)."""
    global _tuning_users, _gc_threshold, _switch_interval
    with _tuning_lock:
        if _tuning_users == 0:
            _gc_threshold, _switch_interval = gc.get_threshold(), sys.getswitchinterval()
            gc.freeze()
            gc.set_threshold(max(GC_YOUNG_THRESHOLD, _gc_threshold[0]), *_gc_threshold[1:])
            sys.setswitchinterval(min(SWITCH_INTERVAL_SECONDS, _switch_interval))
        _tuning_users += 1
    try:
        yield
    finally:
        with _tuning_lock:
            _tuning_users -= 1
            if _tuning_users == 0 and _gc_threshold is not None and _switch_interval is not None:
                gc.set_threshold(*_gc_threshold)
                gc.unfreeze()
                sys.setswitchinterval(_switch_interval)


def _header_row(source: reader.Source) -> int:
    for number, cells in reader.records(source):
        if not reader.is_blank(cells):
            return number
    return 0


def give_up(ctx: JobContext, error: str) -> None:
    """The job's last attempt failed: the import is failed and its file deleted."""
    import_id = UUID(str(ctx.params["import_id"]))
    with ctx.unit_of_work() as session:
        record = _load(session, ctx.actor, import_id)
        if record is not None and record.status not in TERMINAL:
            _finish(session, ctx.actor, import_id, status="failed", error=error)
