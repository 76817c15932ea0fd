"""One list page of an owned record type: the query language (core/records/query.py) plus custom fields.

Record services describe their columns as `FieldSpec`s; `list_page` merges the tenant's `cf.<name>` specs,
parses the client's parameters (unknown names are one 400), applies filters and search to the actor's readable
statement, fetches one offset or cursor page, reads the page's custom field values in ONE query and shapes each
record with the service's serializer, keeping only the `fields=` asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from core.actor import Actor
from core.custom_fields import service as custom_fields
from core.errors import ValidationFailed
from core.records import query as q

# Output-only names that `fields=` may ask for but no filter or sort may use.
OUTPUT_ONLY = ("customFields", "version")


@dataclass(frozen=True)
class RecordPage:
    items: list[dict[str, Any]]
    limit: int
    page: int
    total: int | None  # None for cursor pages
    next_cursor: str | None
    cursor: bool  # True when the client asked for keyset pages (`cursor=`)


def output_specs(*names: str) -> dict[str, q.FieldSpec]:
    return {n: q.FieldSpec(n, None, filterable=False, sortable=False) for n in names}


def _check_params(params: Mapping[str, Sequence[str]]) -> None:
    """PostgreSQL text cannot hold NUL; say so instead of failing in the driver."""
    bad = [k for k, values in params.items() if "\x00" in k or any("\x00" in v for v in values)]
    if bad:
        raise ValidationFailed(
            f"Invalid list query: {', '.join(bad)}",
            details=[{"field": k.replace("\x00", ""), "message": "contains a NUL character"} for k in bad],
        )


def _select(item: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    if fields is None:
        return item
    selected = {k: v for k, v in item.items() if k in fields}
    wanted_cf = [f[3:] for f in fields if f.startswith("cf.")]
    if "customFields" not in fields and wanted_cf:
        values = item.get("customFields") or {}
        selected["customFields"] = {k: v for k, v in values.items() if k in wanted_cf}
    return selected


def list_page(
    session: Session,
    actor: Actor,
    *,
    statement: Select[Any],
    params: Mapping[str, Sequence[str]],
    specs: Mapping[str, q.FieldSpec],
    entity_type: str,
    model: Any,
    serialize: Callable[[Any, dict[str, Any]], dict[str, Any]],
    default_sort: str = "-createdAt",
) -> RecordPage:
    """`statement` selects the model (already limited to what the actor may read); `serialize(record,
    custom_values)` returns the record's JSON-ready dict with camelCase keys named as the specs are."""
    _check_params(params)
    all_specs = {**specs, **custom_fields.field_specs(session, actor, entity_type, model.id)}
    try:
        query = q.parse(params, all_specs, default_sort=default_sort)
    except ValueError as exc:  # a value the parser let through unchecked (e.g. `[isnull]=maybe`)
        raise ValidationFailed(f"Invalid list query: {exc}", details=[{"field": "query", "message": str(exc)}]) from exc
    statement = q.apply(statement, query, id_column=model.id, search_column=model.search)
    for spec, _ in query.sort:
        if spec.name.startswith("cf."):  # the cursor reads sort values from the row: select them, labelled
            statement = statement.add_columns(spec.expression.label(spec.name))
    try:
        page = q.page(session, statement, query, id_spec=all_specs["id"])
    except DataError as exc:  # a value outside its column's range (an int beyond 2^31): the caller rolls back
        raise ValidationFailed(
            "Invalid list query: a filter value is out of range for its field",
            details=[{"field": "query", "message": "value out of range"}],
        ) from exc
    records = [row[0] for row in page.rows]
    fields = query.fields
    wants_cf = fields is None or "customFields" in fields or any(f.startswith("cf.") for f in fields)
    values = (
        custom_fields.values_for(session, actor, entity_type, [r.id for r in records]) if wants_cf and records else {}
    )
    items = [_select(serialize(r, values.get(r.id, {})), fields) for r in records]
    return RecordPage(
        items=items,
        limit=query.limit,
        page=query.page,
        total=page.total,
        next_cursor=page.next_cursor,
        cursor=query.cursor is not None,
    )
