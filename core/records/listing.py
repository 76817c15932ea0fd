"""One list page of an owned record type: the query language (core/records/query.py) plus custom fields.

Record services describe their columns as `FieldSpec`s; `list_page` merges the tenant's `cf.<name>` specs,
parses the client's parameters (unknown names are one 400), applies filters and search to the actor's readable
statement, fetches one offset or cursor page, reads the page's custom field values in ONE query and shapes each
record with the service's serializer, keeping only the `fields=` asked for.

A record type whose read schema is its columns as they are (see `list_page`'s `read_schema`) skips the ORM: the
page is read as plain rows of those columns and each item is built from its row directly, the same JSON at a
fraction of the cost of loading entities and validating each through pydantic; its statements are compiled once
per query shape and run on the driver (`query.compiled_page`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from sqlalchemy import ARRAY, Select, String, type_coerce
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

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


def _mentions_custom_fields(params: Mapping[str, Sequence[str]]) -> bool:
    """Whether the query names a `cf.` field anywhere (a filter, `sort=`, `fields=`): only then can the custom
    field specs change what `query.parse` makes of it (a name it does not know is a 400 either way)."""
    return any(
        "cf." in key or (key in ("sort", "fields") and any("cf." in value for value in values))
        for key, values in params.items()
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


@cache
def _row_shape(read_schema: type[BaseModel], model: Any) -> tuple[tuple[str, Any], ...]:
    """(JSON name, column) for each field of the read schema, in its order; `customFields` has no column."""
    return tuple(
        (info.alias or name, None if name == "custom_fields" else getattr(model, name))
        for name, info in read_schema.model_fields.items()
    )


def _as_fetched(column: Any) -> Any:
    """A string array as psycopg returns it (a list of str, or None): SQLAlchemy's ARRAY result processor
    would only copy each list, per row."""
    if isinstance(column.type, ARRAY) and isinstance(column.type.item_type, String):
        return type_coerce(column, NullType())
    return column


@cache
def _row_columns(read_schema: type[BaseModel], model: Any) -> tuple[Any, ...]:
    """The shape's columns labelled with their JSON names (built once: labels are immutable)."""
    return tuple(
        _as_fetched(column).label(name) for name, column in _row_shape(read_schema, model) if column is not None
    )


@cache
def _row_layout(shape: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, ...], str | None, tuple[str, ...], int]:
    """How a row of `_row_columns` becomes an item: (names of the columns before the custom fields, the custom
    fields' name or None when the schema has none, names of the columns after them, where `id` is in the row)."""
    names = [name for name, column in shape if column is not None]
    position = next((i for i, (_, column) in enumerate(shape) if column is None), len(shape))
    custom = shape[position][0] if position < len(shape) else None
    return tuple(names[:position]), custom, tuple(names[position:]), names.index("id")


def _items_from_rows(
    rows: list[Any], shape: tuple[tuple[str, Any], ...], values: Mapping[Any, dict[str, Any]], *, json_ready: bool
) -> list[dict[str, Any]]:
    """Each row (the columns of `_row_columns`, then any added sort columns) as the read schema dumps it in
    JSON mode (without `json_ready`: UUIDs and datetimes still objects, which pydantic-core's JSON encoder
    writes the same way)."""
    before, custom, after, id_at = _row_layout(shape)
    if custom is None:
        items = [dict(zip(before, row, strict=False)) for row in rows]
    else:
        cut = len(before)
        items = []
        for row in rows:
            item = dict(zip(before, row, strict=False))
            item[custom] = values.get(row[id_at], {})
            item.update(zip(after, row[cut:], strict=False))
            items.append(item)
    if not json_ready:
        return items
    # UUIDs and datetimes as pydantic writes them in JSON mode: the serializer that `model_dump` uses.
    return to_jsonable_python(items)  # type: ignore[no-any-return]


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
    read_schema: type[BaseModel] | None = None,
    json_ready: bool = True,
) -> RecordPage:
    """`statement` selects the model (already limited to what the actor may read); `serialize(record,
    custom_values)` returns the record's JSON-ready dict with camelCase keys named as the specs are.

    With `read_schema` (what `serialize` validates and dumps), the page skips the ORM: it selects only the
    schema's columns, labelled with their JSON names, and builds each item from its row. Only for a schema whose
    every field but `custom_fields` is a column of `model` of the same name, whose values it takes as they are
    (no validator changes them, no computed field): then each item is exactly what `serialize` returns.
    `statement` must carry no ORM loader options then. Such a page's items keep UUIDs and datetimes as objects
    unless `json_ready` (the default): a caller that writes the page with pydantic-core's JSON encoder (as the
    API does) gets the same JSON without converting every value twice.
    """
    _check_params(params)
    all_specs = dict(specs)
    if _mentions_custom_fields(params):
        all_specs.update(custom_fields.field_specs(session, actor, entity_type, model.id))
    try:
        query = q.parse(params, all_specs, default_sort=default_sort)
    except ValueError as exc:  # a value the parser let through unchecked (e.g. `[isnull]=maybe`)
        raise ValidationFailed(f"Invalid list query: {exc}", details=[{"field": "query", "message": str(exc)}]) from exc
    shape = _row_shape(read_schema, model) if read_schema is not None else None
    try:
        if shape is None:
            statement = q.apply(statement, query, id_column=model.id, search_column=model.search)
            for spec, _ in query.sort:  # the cursor reads a custom field's sort value from the row
                if spec.name.startswith("cf."):
                    statement = statement.add_columns(spec.expression.label(spec.name))
            page = q.page(session, statement, query, id_spec=all_specs["id"])
        else:
            labelled = {name for name, column in shape if column is not None}

            def select_rows(readable: Select[Any]) -> Select[Any]:
                rows = readable.with_only_columns(*_row_columns(read_schema, model))  # type: ignore[arg-type]
                rows = q.apply(rows, query, id_column=model.id, search_column=model.search)
                for spec, _ in query.sort:  # the cursor reads sort values from the row: select those it lacks
                    if spec.name not in labelled:
                        rows = rows.add_columns(spec.expression.label(spec.name))
                return rows

            page = q.compiled_page(
                session, statement, query, id_spec=all_specs["id"], select=select_rows, shape=(read_schema, model)
            )
    except DataError as exc:  # a value outside its column's range (an int beyond 2^31): the caller rolls back
        raise ValidationFailed(
            "Invalid list query: a filter value is out of range for its field",
            details=[{"field": "query", "message": "value out of range"}],
        ) from exc
    fields = query.fields
    wants_cf = fields is None or "customFields" in fields or any(f.startswith("cf.") for f in fields)
    if shape is not None:
        id_at = _row_layout(shape)[3]
        ids = [row[id_at] for row in page.rows]
        values = custom_fields.values_for(session, actor, entity_type, ids) if wants_cf and ids else {}
        items = [_select(item, fields) for item in _items_from_rows(page.rows, shape, values, json_ready=json_ready)]
    else:
        records = [row[0] for row in page.rows]
        values = (
            custom_fields.values_for(session, actor, entity_type, [r.id for r in records])
            if wants_cf and records
            else {}
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
