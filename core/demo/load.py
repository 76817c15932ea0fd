"""Bulk loading of generated rows with COPY, inside the seeding transaction.

Rows become COPY text (tab-separated, `\\N` for NULL, PostgreSQL array literals for tags) in the generating
thread; the loading thread only streams bytes, so generation of the next chunk overlaps the server's work on
this one (inserts, index updates, foreign key checks and the statement-level audit triggers, which run once
per COPY with the whole batch as their transition table). Generated columns (`search`) are computed by
PostgreSQL; columns left out take their defaults.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

COLUMNS: dict[str, tuple[str, ...]] = {
    "accounts": (
        "id", "tenant_id", "owner_id", "name", "domain", "website", "industry", "company_size", "annual_revenue",
        "phone", "email", "address_street", "address_city", "address_state", "address_postal_code",
        "address_country", "tags", "created_at", "updated_at",
    ),
    "contacts": (
        "id", "tenant_id", "owner_id", "account_id", "first_name", "last_name", "email", "phone", "mobile", "title",
        "department", "company", "lead_source", "lead_status", "lifecycle_stage", "lead_score", "last_contacted_at",
        "address_street", "address_city", "address_state", "address_postal_code", "address_country", "tags",
        "created_at", "updated_at", "version",
    ),
    "deals": (
        "id", "tenant_id", "owner_id", "pipeline_id", "stage_id", "account_id", "contact_id", "name", "amount",
        "currency", "probability", "expected_close_date", "actual_close_date", "lead_source", "next_step",
        "description", "is_closed", "is_won", "lost_reason", "stage_entered_at", "tags", "created_at", "updated_at",
        "version",
    ),
    "deal_stage_history": (
        "id", "tenant_id", "deal_id", "from_stage_id", "to_stage_id", "changed_at", "changed_by", "amount",
        "probability",
    ),
    "activities": (
        "id", "tenant_id", "owner_id", "type", "subject", "body", "direction", "outcome", "duration_seconds",
        "occurred_at", "contact_id", "account_id", "deal_id", "created_at", "updated_at",
    ),
    "tasks": (
        "id", "tenant_id", "title", "description", "due_at", "priority", "status", "assignee_id", "created_by",
        "completed_at", "contact_id", "account_id", "deal_id", "created_at", "updated_at", "version",
    ),
    "notes": (
        "id", "tenant_id", "entity_type", "entity_id", "body", "is_pinned", "author_id", "created_at", "updated_at",
    ),
    "custom_field_values": (
        "id", "tenant_id", "custom_field_id", "entity_type", "entity_id", "value_text", "value_number", "value_date",
        "value_bool", "created_at", "updated_at",
    ),
}  # fmt: skip

# Tables in an order that satisfies every foreign key.
LOAD_ORDER = tuple(COLUMNS)

# Values are joined with control characters that generated text never holds; then a few `str.replace` passes
# over the whole payload escape what COPY's text format needs and turn the markers into tabs, newlines and
# NULLs (far cheaper than escaping value by value). Backslashes first: later replacements add some.
_FIELD, _ROW, _NULL = "\x1f", "\x1e", "\x1d"
_ENCODE = (
    ("\\", "\\\\"),
    ("\t", "\\t"),
    ("\n", "\\n"),
    ("\r", "\\r"),
    (_FIELD, "\t"),
    (_ROW, "\n"),
    (_NULL, "\\N"),
)


@dataclass(frozen=True)
class Batch:
    table: str
    rows: int
    data: bytes


def _array(values: list[str] | tuple[str, ...]) -> str:
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


def _first(row: tuple[Any, ...]) -> Any:
    return row[0]


def _other(value: Any) -> str:
    if value is None:
        return _NULL
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, list | tuple):
        return _array(value)
    return str(value)


def table_batch(table: str, rows: list[tuple[Any, ...]]) -> Batch:
    """Rows (in `COLUMNS[table]` order) as one COPY text payload, in id order: ids are time-ordered, so
    index entries arrive in order and land on the same pages."""
    width = len(COLUMNS[table])
    lines = []
    for row in sorted(rows, key=_first):
        if len(row) != width:
            raise ValueError(f"{table}: row of {len(row)} values for {width} columns")
        lines.append(_FIELD.join([v if v.__class__ is str else _other(v) for v in row]))
    text = (_ROW.join(lines) + _ROW) if lines else ""
    for plain, escaped in _ENCODE:
        if plain in text:
            text = text.replace(plain, escaped)
    return Batch(table, len(rows), text.encode())


def copy_batch(connection: Any, batch: Batch) -> None:
    """COPY one batch on a psycopg connection (the seeding transaction's)."""
    if not batch.rows:
        return
    columns = ", ".join(COLUMNS[batch.table])
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY {batch.table} ({columns}) FROM STDIN") as copy:
            view = memoryview(batch.data)
            for start in range(0, len(view), 1 << 20):
                copy.write(view[start : start + (1 << 20)])


_DONE = object()


def prefetch(items: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """Run `items` in a background thread, `depth` items ahead of the consumer.

    The generator is pure Python and the consumer spends its time waiting on the server, so this is how both
    cores are used. An exception in the producer is raised in the consumer; a consumer that stops early (an
    error while loading) makes the producer stop at its next item.
    """
    handoff: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        handoff.put(item, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            handoff.put(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it
            handoff.put(exc)

    thread = threading.Thread(target=produce, name="demo-generator", daemon=True)
    thread.start()
    try:
        while True:
            item = handoff.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:  # unblock a producer waiting to put
                handoff.get_nowait()
            except queue.Empty:
                pass
            thread.join(timeout=0.1)


ProgressFn = Callable[[str, int, int], None]
