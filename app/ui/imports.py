"""Pieces of the Import page: checking an uploaded file without stopping the page, remembering that check while
the user adjusts the mapping, and the per-row report of an import as a CSV to download."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import streamlit as st
from pydantic import ValidationError as SchemaError

from app.ui.calls import problem_text, schema_problems
from app.ui.session import request_context
from core.actor import Actor
from core.db import reset_context, set_context, unit_of_work
from core.errors import DomainError
from core.imports import service as imports
from core.imports.mapping import FORMULA_TRIGGERS
from core.imports.schemas import ImportOptions, ImportPreview, ImportRead, ImportRowRead

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

T = TypeVar("T")

ENTITIES = {"contacts": "Contacts", "accounts": "Accounts"}
POLICIES = {
    "skip": "Skip duplicates",
    "update": "Update duplicates",
    "create": "Create anyway",
}
POLICY_HELP = (
    "A duplicate is a row whose email (contacts) or domain, else name (accounts) matches a record you already "
    "have or an earlier row of the file. Skip leaves the record as it is; update fills it with the row's "
    "non-empty values; create adds another record anyway."
)
STATUS = {
    "queued": "Queued",
    "running": "Running",
    "completed": "Completed",
    "failed": "Failed",
    "cancelled": "Cancelled",
}
IGNORE = ""
_MEMO = "imp_checked"
_MEMO_SIZE = 6


def importable_entities(actor: Actor) -> list[str]:
    """The record types the actor may import (the service checks it again): `<entity>:import` and `:create`."""
    return [e for e in ENTITIES if actor.can(e, "import") and actor.can(e, "create")]


def policies(actor: Actor, entity_type: str) -> list[str]:
    return [p for p in POLICIES if p != "update" or actor.can(entity_type, "update")]


def recent_imports(session: Session, actor: Actor, *, limit: int) -> tuple[list[ImportRead], int]:
    """The latest imports the actor may see, as users see them, with their total (one unit of work)."""
    records, total = imports.list_imports(session, actor, limit=limit)
    return imports.to_reads(session, records), total


def attempt_read(actor: Actor, fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T | None, str | None]:
    """A read that may be refused (a file that cannot be imported, a mapping that does not fit): the result, or
    the message to show next to the form, without stopping the page or clearing caches."""
    token = set_context(request_context())
    try:
        with unit_of_work(actor) as session:
            return fn(session, actor, *args, **kwargs), None
    except DomainError as exc:
        return None, problem_text(exc)
    except SchemaError as exc:
        return None, schema_problems(exc)
    finally:
        reset_context(token)


def check_file(
    actor: Actor,
    file_id: str,
    data: bytes,
    entity_type: str,
    policy: str,
    mapping: Mapping[str, str | None] | None,
) -> tuple[ImportPreview | None, str | None]:
    """`imports.preview` of the file, remembered per file and options for the session: every click on the page
    reruns it, and reading a large file again each time would make the mapping form sluggish."""
    key = json.dumps([str(actor.user_id), file_id, entity_type, policy, mapping], sort_keys=True)
    memo: dict[str, tuple[ImportPreview | None, str | None]] = st.session_state.setdefault(_MEMO, {})
    if key not in memo:
        memo[key] = attempt_read(
            actor,
            lambda s, a: imports.preview(
                s,
                a,
                data,
                ImportOptions(entity_type=entity_type, duplicate_policy=policy, mapping=mapping),  # type: ignore[arg-type]
                require_columns=False,
            ),
        )
        while len(memo) > _MEMO_SIZE:
            memo.pop(next(iter(memo)))
    return memo[key]


def overrides(preview: ImportPreview, chosen: Mapping[str, str]) -> dict[str, str | None] | None:
    """The mapping to send: None while every column keeps its suggested field, else every column's choice
    (so that moving a field to another column never leaves it on two)."""
    if all(chosen.get(h, IGNORE) == preview.mapping.get(h, IGNORE) for h in chosen):
        return None
    return {header: field or None for header, field in chosen.items()}


def distinct_headers(headers: Sequence[str]) -> list[tuple[int, str]]:
    """(index, header) of the columns a mapping can name: the first of each header (a repeated one is ignored)."""
    seen: set[str] = set()
    found = []
    for index, header in enumerate(headers):
        if header not in seen:
            seen.add(header)
            found.append((index, header))
    return found


def column_labels(headers: Sequence[str]) -> list[str]:
    """Headers as table columns: blank ones named by position, repeated ones numbered."""
    labels: list[str] = []
    for index, header in enumerate(headers):
        label = header.strip() or f"(column {index + 1})"
        while label in labels:
            label = f"{label} ({index + 1})"
        labels.append(label)
    return labels


def row_report_csv(failed: Sequence[ImportRowRead], skipped: Sequence[ImportRowRead] = ()) -> bytes:
    """The rows that were not imported, one line per problem: row number (as a spreadsheet shows it), outcome,
    column, field, reason, then the row's own cells, so the file can be fixed and imported again."""
    headers: list[str] = []
    for row in (*failed, *skipped):
        for header in row.values or {}:
            if header not in headers:
                headers.append(header)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["Row", "Outcome", "Column", "Field", "Reason", "Existing record", *headers])
    for outcome, rows in (("failed", failed), ("skipped", skipped)):
        for row in rows:
            cells = row.values or {}
            writer.writerow(
                [
                    row.row,
                    outcome,
                    row.column or "",
                    row.field or "",
                    row.message,
                    str(row.existing_id or ""),
                    *(_safe(cells.get(h, "")) for h in headers),
                ]
            )
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # the BOM makes Excel read UTF-8


def _safe(value: str) -> str:
    """A cell a spreadsheet would run as a formula gets an apostrophe (the importer takes it off again)."""
    return f"'{value}" if value[:1] in FORMULA_TRIGGERS else value
