"""List queries for every record type: filters, sort, field selection, search, offset and cursor pages.

The seed's query language, parsed once here and applied to any model through a whitelist of fields:

    ?leadStatus=new,qualified          equality, or any of a comma-separated list
    ?leadScore[gte]=50&leadScore[lt]=90 ranges: gt, gte, lt, lte; also ne, in, contains (lists), isnull
    ?sort=-createdAt,lastName          `-` for descending; `id` always breaks ties
    ?fields=id,email,firstName         only these fields in each item
    ?search=ada                        full-text and prefix match on the model's search vector
    ?page=2&limit=50  or  ?cursor=...  offset pages, or keyset pages that stay stable under inserts

Unknown fields, operators or values are a `ValidationFailed` that names them. Custom fields take part as
`cf.<field_name>` (see core/custom_fields) through the same `FieldSpec` mechanism.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from sqlalchemy import Column, ColumnElement, Integer, Select, and_, cast, func, literal, or_, select
from sqlalchemy.orm import Session

from core.db import execute_core
from core.errors import ValidationFailed

RESERVED = {"page", "limit", "cursor", "sort", "fields", "search"}
OPERATORS = {"eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "isnull"}
LIST_OPERATORS = {"eq", "ne", "in", "contains", "isnull"}
MAX_LIMIT = 100
_PARAM = re.compile(r"^(?P<field>[A-Za-z][A-Za-z0-9_.]*)(?:\[(?P<op>[a-z]+)\])?$")


def _parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ValueError("expected true or false")


def _parse_int(raw: str) -> int:
    value = int(raw)
    if not -(2**63) <= value < 2**63:  # PostgreSQL's bigint; anything larger is no useful filter
        raise ValueError("out of range")
    return value


def _parse_decimal(raw: str) -> Decimal:
    value = Decimal(raw)
    if not value.is_finite() or not -1000 < value.adjusted() < 1000:  # NaN, Infinity, overflowing exponents
        raise ValueError("not a finite number of reasonable size")
    return value


PARSERS: dict[str, Callable[[str], Any]] = {
    "str": str,
    "int": _parse_int,
    "decimal": _parse_decimal,
    "date": date.fromisoformat,
    "datetime": lambda raw: datetime.fromisoformat(raw.replace("Z", "+00:00")),
    "bool": _parse_bool,
    "uuid": UUID,
    "str_list": str,
}


@dataclass(frozen=True)
class FieldSpec:
    """One field a list may filter, sort or select by: its API name, its SQL expression and its type."""

    name: str
    expression: Any
    type: str = "str"
    filterable: bool = True
    sortable: bool = True

    def parse(self, raw: str) -> Any:
        try:
            return PARSERS[self.type](raw.strip())
        except (ValueError, InvalidOperation, TypeError) as exc:
            raise ValidationFailed(
                f"Invalid value for {self.name}: {raw!r} is not a valid {self.type}",
                details=[{"field": self.name, "message": f"expected {self.type}", "value": raw[:100]}],
            ) from exc


@dataclass
class Filter:
    spec: FieldSpec
    op: str
    values: list[Any]


@dataclass
class ListQuery:
    filters: list[Filter] = field(default_factory=list)
    sort: list[tuple[FieldSpec, bool]] = field(default_factory=list)  # (field, descending)
    fields: list[str] | None = None
    search: str | None = None
    page: int = 1
    limit: int = 20
    cursor: str | None = None


def parse(
    params: Mapping[str, Sequence[str]],
    specs: Mapping[str, FieldSpec],
    *,
    default_sort: str = "-createdAt",
    extra: Sequence[str] = (),
) -> ListQuery:
    """Query-string parameters (name -> values) into a ListQuery; everything unknown is one clear 400."""
    query = ListQuery()
    problems: list[dict[str, str]] = []

    def one(name: str) -> str | None:
        values = params.get(name)
        return values[-1] if values else None

    try:
        query.page = int(one("page") or 1)
        query.limit = int(one("limit") or 20)
    except ValueError:
        problems.append({"field": "page/limit", "message": "must be whole numbers"})
    if not 1 <= query.page <= 100_000:
        problems.append({"field": "page", "message": "must be between 1 and 100000"})
    if not 1 <= query.limit <= MAX_LIMIT:
        problems.append({"field": "limit", "message": f"must be between 1 and {MAX_LIMIT}"})
    query.cursor = one("cursor")
    search = (one("search") or "").strip()
    query.search = search[:200] or None

    for item in filter(None, (one("sort") or default_sort).split(",")):
        descending = item.startswith("-")
        name = item.lstrip("-+")
        spec = specs.get(name)
        if spec is None or not spec.sortable:
            problems.append({"field": name, "message": "unknown sort field"})
        else:
            query.sort.append((spec, descending))

    if one("fields"):
        wanted = [f.strip() for f in one("fields").split(",") if f.strip()]  # type: ignore[union-attr]
        unknown = [f for f in wanted if f not in specs]
        problems.extend({"field": f, "message": "unknown field in fields="} for f in unknown)
        query.fields = sorted(set(wanted) | {"id"})

    for key, values in params.items():
        if key in RESERVED or key in extra:
            continue
        match = _PARAM.match(key)
        spec = specs.get(match.group("field")) if match else None
        op = (match.group("op") if match else None) or "eq"
        if spec is None or not spec.filterable:
            problems.append({"field": key, "message": "unknown filter field"})
            continue
        if op not in OPERATORS:
            problems.append({"field": key, "message": f"unknown operator {op}; use one of {sorted(OPERATORS)}"})
            continue
        if spec.type == "str_list" and op not in LIST_OPERATORS:
            problems.append({"field": key, "message": f"a list field takes one of {sorted(LIST_OPERATORS)}"})
            continue
        for raw in values:
            if op == "isnull":
                try:
                    query.filters.append(Filter(spec, op, [_parse_bool(raw) if raw else True]))
                except ValueError:
                    problems.append({"field": key, "message": "isnull takes true or false"})
                continue
            parts = raw.split(",") if op in ("eq", "in", "ne", "contains") else [raw]
            query.filters.append(
                Filter(spec, "in" if op == "eq" and len(parts) > 1 else op, [spec.parse(p) for p in parts])
            )
    if problems:
        names = ", ".join(p["field"] for p in problems)
        raise ValidationFailed(f"Invalid list query: {names}", details=problems)
    return query


def _condition(flt: Filter) -> ColumnElement[bool]:
    column, values = flt.spec.expression, flt.values
    if flt.spec.type == "str_list":
        if flt.op in ("eq", "in", "contains"):
            return column.overlap(values) if flt.op != "contains" else column.contains(values)
        if flt.op == "ne":
            return ~column.overlap(values)
    if flt.op == "isnull":
        return column.is_(None) if values[0] else column.is_not(None)
    if flt.op in ("eq", "in"):
        return column.in_(values) if len(values) > 1 else column == values[0]
    if flt.op == "ne":
        return or_(column.not_in(values), column.is_(None))
    if flt.op == "contains":
        return or_(*(column.ilike(f"%{_escape_like(v)}%", escape="\\") for v in values))
    comparisons = {
        "gt": column > values[0],
        "gte": column >= values[0],
        "lt": column < values[0],
        "lte": column <= values[0],
    }
    return comparisons[flt.op]


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_condition(search_column: Any, text: str) -> ColumnElement[bool]:
    """Words of `text` must all match, the last one as a prefix (type-ahead): `ada lov` finds Ada Lovelace."""
    words = [w for w in re.findall(r"[\w@.+-]+", text.lower()) if w]
    if not words:
        return literal(True)
    terms = [f"{w.replace(chr(39), '')}:*" if i == len(words) - 1 else w.replace("'", "") for i, w in enumerate(words)]
    return search_column.op("@@")(func.to_tsquery("simple", " & ".join(terms)))


def apply(statement: Select[Any], query: ListQuery, *, id_column: Any, search_column: Any = None) -> Select[Any]:
    """Filters and search (no ordering: `page` orders)."""
    for flt in query.filters:
        statement = statement.where(_condition(flt))
    if query.search and search_column is not None:
        statement = statement.where(search_condition(search_column, query.search))
    return statement


@dataclass
class Page:
    rows: list[Any]
    total: int | None
    next_cursor: str | None


def _encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(
        [v.isoformat() if isinstance(v, (date, datetime)) else str(v) if v is not None else None for v in values]
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, keys: list[FieldSpec]) -> list[Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(keys):
            raise ValueError("shape")
        return [None if v is None else spec.parse(v) for v, spec in zip(raw, keys, strict=True)]
    except (ValueError, TypeError, ValidationFailed) as exc:
        raise ValidationFailed(
            "Invalid cursor: use the nextCursor of a previous page with the same sort",
            details=[{"field": "cursor", "message": "not a cursor of this list"}],
        ) from exc


def _column(spec: FieldSpec) -> Column[Any] | None:
    """The table column a field sorts by, when it is one (not an expression, subquery or label)."""
    column = getattr(spec.expression, "expression", spec.expression)  # an ORM attribute's column
    return column if isinstance(column, Column) else None


def _never_null(spec: FieldSpec, id_spec: FieldSpec) -> bool:
    """A NOT NULL column of the listed record's own table (the one `id_spec` belongs to): never NULL in a row,
    whatever the statement joins."""
    column, id_column = _column(spec), _column(id_spec)
    return column is not None and id_column is not None and not column.nullable and column.table is id_column.table


def page(
    session: Session, statement: Select[Any], query: ListQuery, *, id_spec: FieldSpec, plain_rows: bool = False
) -> Page:
    """Order by the sort (ties broken by id) and fetch one page: by offset with a total, or, with a cursor
    (or `cursor=` empty to start), by keyset with the next cursor (no total: lists stay fast when large).

    Empty values sort last. A column that cannot be empty is ordered without `NULLS LAST`: the same order, but
    one that a (tenant_id, column, ...) index can return as it is, read forwards or backwards.

    With `plain_rows` (a statement of labelled columns, no entity), the statements run on the session's
    connection (`execute_core`): the same rows without the ORM's work per statement and per row.
    """
    if plain_rows:

        def execute(statement: Any) -> Any:
            return execute_core(session, statement)

    else:
        execute = session.execute
    keys = [spec for spec, _ in query.sort if spec.name != id_spec.name] + [id_spec]
    directions = [desc for spec, desc in query.sort if spec.name != id_spec.name] + [
        next((desc for spec, desc in query.sort if spec.name == id_spec.name), False)
    ]
    never_null = [_never_null(spec, id_spec) for spec in keys]
    order = []
    for spec, desc, plain in zip(keys, directions, never_null, strict=True):
        ordered = spec.expression.desc() if desc else spec.expression.asc()
        order.append(ordered if plain else ordered.nulls_last())
    if query.cursor is None:
        total = execute(select(func.count()).select_from(statement.order_by(None).subquery())).scalar() or 0
        rows = execute(statement.order_by(*order).limit(query.limit).offset((query.page - 1) * query.limit)).all()
        return Page(rows, total, None)
    if query.cursor:
        after = _decode_cursor(query.cursor, keys)
        statement = statement.where(_after(keys, directions, after, never_null))
        if never_null[0] and after[0] is not None:
            # Implied by `_after` (every later row is at or beyond the first key's value): said on its own, it
            # lets an index on that key start at the cursor instead of reading every row before it.
            first = _comparable(keys[0])
            statement = statement.where(first <= _plain(after[0]) if directions[0] else first >= _plain(after[0]))
    rows = execute(statement.order_by(*order).limit(query.limit + 1)).all()
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = _encode_cursor([_value(last, spec) for spec in keys])
    return Page(rows, None, next_cursor)


def _value(row: Any, spec: FieldSpec) -> Any:
    """A sort key's value in a row: the entity's attribute, or a column labelled with the field's name."""
    mapping = row._mapping
    if spec.name in mapping:
        return mapping[spec.name]
    return getattr(row[0], spec.expression.key)


def _after(
    keys: list[FieldSpec], directions: list[bool], values: list[Any], never_null: list[bool]
) -> ColumnElement[bool]:
    """Rows strictly after `values` in the (keys, directions) order. Empty values come last in both directions,
    as users expect of "sort by amount"."""
    clauses = []
    for i, (spec, desc) in enumerate(zip(keys, directions, strict=True)):
        equal_before = [_equal(_comparable(keys[j]), values[j]) for j in range(i)]
        clauses.append(and_(*equal_before, _beyond(_comparable(spec), values[i], desc, never_null[i])))
    return or_(*clauses)


def _comparable(spec: FieldSpec) -> Any:
    """Booleans have no `<` in SQLAlchemy: compare them as integers (false < true, as PostgreSQL orders them)."""
    return cast(spec.expression, Integer) if spec.type == "bool" else spec.expression


def _equal(column: Any, value: Any) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == _plain(value)


def _beyond(column: Any, value: Any, desc: bool, never_null: bool = False) -> ColumnElement[bool]:
    if value is None:  # NULLs are last: only the tie-breaking keys can be beyond
        return literal(False)
    beyond = column < _plain(value) if desc else column > _plain(value)
    return beyond if never_null else or_(beyond, column.is_(None))


def _plain(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


def select_fields(item: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    return item if fields is None else {k: v for k, v in item.items() if k in fields}
