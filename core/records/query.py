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
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BindParameter,
    Column,
    ColumnElement,
    Connection,
    Dialect,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    cast,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import REGCONFIG
from sqlalchemy.orm import Session

from core.db import driver_execute, execute_core
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


def _filter_values(flt: Filter, index: int) -> dict[str, Any]:
    """The values the `index`-th filter compares with, by parameter name (see `_condition`)."""
    if flt.op == "isnull":
        return {}
    if flt.spec.type == "str_list":
        return {f"lq_f{index}": flt.values}
    if flt.op == "contains":
        return {f"lq_f{index}_{n}": f"%{_escape_like(v)}%" for n, v in enumerate(flt.values)}
    return {f"lq_f{index}_{n}": v for n, v in enumerate(flt.values)}


def _condition(flt: Filter, index: int) -> ColumnElement[bool]:
    column = flt.spec.expression
    binds = [_bind(name, value, column) for name, value in _filter_values(flt, index).items()]
    if flt.op == "isnull":
        return column.is_(None) if flt.values[0] else column.is_not(None)
    if flt.spec.type == "str_list":
        if flt.op in ("eq", "in"):
            return column.overlap(binds[0])
        if flt.op == "contains":
            return column.contains(binds[0])
        return ~column.overlap(binds[0])  # ne
    if flt.op in ("eq", "in"):
        return column.in_(binds) if len(binds) > 1 else column == binds[0]
    if flt.op == "ne":
        return or_(column.not_in(binds), column.is_(None))
    if flt.op == "contains":
        return or_(*(column.ilike(bind, escape="\\") for bind in binds))
    operators = {"gt": column.__gt__, "gte": column.__ge__, "lt": column.__lt__, "lte": column.__le__}
    return operators[flt.op](binds[0])  # type: ignore[no-any-return]


def _bind(name: str, value: Any, expression: Any) -> Any:
    """`value` bound as SQLAlchemy binds a value compared with `expression` (of its type), under a fixed name.

    Not for a type with a comparator of the application's own (custom fields): it may expect a Python value,
    so it gets one, and a statement holding such a comparison is not compiled once (see `compiled_page`).
    """
    if not type(expression.type).comparator_factory.__module__.startswith("sqlalchemy."):
        return value
    return bindparam(name, value, type_=expression.type.coerce_compared_value(None, value))


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _tsquery(text: str) -> str | None:
    """Words of `text` must all match, the last one as a prefix (type-ahead): `ada lov` finds Ada Lovelace."""
    words = [w for w in re.findall(r"[\w@.+-]+", text.lower()) if w]
    terms = [f"{w.replace(chr(39), '')}:*" if i == len(words) - 1 else w.replace("'", "") for i, w in enumerate(words)]
    return " & ".join(terms) or None


def search_condition(search_column: Any, text: str) -> ColumnElement[bool]:
    """`text` as a full-text match on `search_column` (see `_tsquery`); no words match everything."""
    tsquery = _tsquery(text)
    if tsquery is None:
        return true()
    return search_column.op("@@")(
        func.to_tsquery(
            bindparam("lq_config", "simple", type_=REGCONFIG()), bindparam("lq_search", tsquery, type_=String())
        )
    )


def _search_values(query: ListQuery) -> dict[str, Any]:
    tsquery = _tsquery(query.search) if query.search else None
    return {} if tsquery is None else {"lq_config": "simple", "lq_search": tsquery}


def apply(statement: Select[Any], query: ListQuery, *, id_column: Any, search_column: Any = None) -> Select[Any]:
    """Filters and search (no ordering: `page` orders). Values are bind parameters named after their place in
    the query (`lq_...`, see `_values` and `_bind`), so one statement holds one list query."""
    for index, flt in enumerate(query.filters):
        statement = statement.where(_condition(flt, index))
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


@dataclass(frozen=True)
class _Order:
    """How a list query orders its rows: the sort keys with `id` last, their directions, and which cannot be
    NULL."""

    keys: list[FieldSpec]
    directions: list[bool]
    never_null: list[bool]

    def clauses(self) -> list[Any]:
        """ORDER BY, empty values last (see `page`)."""
        clauses = []
        for spec, desc, plain in zip(self.keys, self.directions, self.never_null, strict=True):
            ordered = spec.expression.desc() if desc else spec.expression.asc()
            clauses.append(ordered if plain else ordered.nulls_last())
        return clauses


def _order(query: ListQuery, id_spec: FieldSpec) -> _Order:
    keys = [spec for spec, _ in query.sort if spec.name != id_spec.name] + [id_spec]
    directions = [desc for spec, desc in query.sort if spec.name != id_spec.name] + [
        next((desc for spec, desc in query.sort if spec.name == id_spec.name), False)
    ]
    return _Order(keys, directions, [_never_null(spec, id_spec) for spec in keys])


def _after_values(query: ListQuery, order: _Order) -> list[Any] | None:
    """The sort values of the row a cursor points after (None: the first page, or offset pages)."""
    return _decode_cursor(query.cursor, order.keys) if query.cursor else None


def _values(query: ListQuery, after: list[Any] | None) -> dict[str, Any]:
    """Every value of the statements of `_statements`, by parameter name."""
    values: dict[str, Any] = {}
    for index, flt in enumerate(query.filters):
        values.update(_filter_values(flt, index))
    values.update(_search_values(query))
    if after is not None:
        values.update({f"lq_after{i}": _plain(value) for i, value in enumerate(after) if value is not None})
    return values | _limits(query)


def _limits(query: ListQuery) -> dict[str, int]:
    if query.cursor is None:
        return {"lq_limit": query.limit, "lq_offset": (query.page - 1) * query.limit}
    return {"lq_limit": query.limit + 1}  # one more: whether a next page exists


def _statements(
    statement: Select[Any], query: ListQuery, order: _Order, after: list[Any] | None
) -> tuple[Select[Any] | None, Select[Any]]:
    """(the count statement, offset pages only; the page's statement) of a filtered `statement`."""
    values = _limits(query)
    limit = bindparam("lq_limit", values["lq_limit"], type_=Integer())
    if query.cursor is None:
        count = select(func.count()).select_from(statement.order_by(None).subquery())
        offset = bindparam("lq_offset", values["lq_offset"], type_=Integer())
        return count, statement.order_by(*order.clauses()).limit(limit).offset(offset)
    if after is not None:
        statement = statement.where(_after(order, after))
        if order.never_null[0] and after[0] is not None:
            # Implied by `_after` (every later row is at or beyond the first key's value): said on its own, it
            # lets an index on that key start at the cursor instead of reading every row before it.
            first, value = _comparable(order.keys[0]), _after_bind(order, 0, after[0])
            statement = statement.where(first <= value if order.directions[0] else first >= value)
    return None, statement.order_by(*order.clauses()).limit(limit)


def _cursor_page(rows: list[Any], query: ListQuery, order: _Order, value: Callable[[Any, FieldSpec], Any]) -> Page:
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    next_cursor = None
    if more and rows:
        next_cursor = _encode_cursor([value(rows[-1], spec) for spec in order.keys])
    return Page(rows, None, next_cursor)


def page(session: Session, statement: Select[Any], query: ListQuery, *, id_spec: FieldSpec) -> Page:
    """Order by the sort (ties broken by id) and fetch one page: by offset with a total, or, with a cursor
    (or `cursor=` empty to start), by keyset with the next cursor (no total: lists stay fast when large).

    Empty values sort last. A column that cannot be empty is ordered without `NULLS LAST`: the same order, but
    one that a (tenant_id, column, ...) index can return as it is, read forwards or backwards.
    """
    order = _order(query, id_spec)
    after = _after_values(query, order)
    count, rows_statement = _statements(statement, query, order, after)
    if count is not None:
        total = session.execute(count).scalar() or 0
        return Page(list(session.execute(rows_statement).all()), total, None)
    return _cursor_page(list(session.execute(rows_statement).all()), query, order, _value)


# Compiled pages ---------------------------------------------------------------------------------------------
#
# A list page of labelled columns (core/records/listing.py) runs on nearly every request, and building its
# statements, finding their compiled form by SQLAlchemy's cache key and running them through SQLAlchemy's
# execution machinery cost more CPU than PostgreSQL spends answering them. Its statements depend only on the
# statement they filter and on the query's *shape* (which filters with how many values, search or not, the
# sort, which cursor values are empty), never on the values, which are bind parameters named after their place
# in the query (`_values`). So each shape is built and compiled once; afterwards a request computes its
# parameter values and runs the compiled SQL on the driver (`core.db.driver_execute`). A statement holding any
# other value (a custom field's, see `_bind`) is built and run through SQLAlchemy each time, as before.
#
# The filtered statement comes from the caller (the actor's readable statement: tenant, scope, soft delete),
# whose own values (the tenant id, the user or team) are taken the way SQLAlchemy's compiled cache takes them:
# by position among the bind parameters of its cache key, identical for every statement of the same key.


class _Uncacheable(Exception):
    """A statement with a value that is neither the query's nor the filtered statement's (e.g. a constant
    inside a custom field's expression): it runs as built, through SQLAlchemy."""


class _Prepared:
    """One statement compiled for the driver, and where each of its parameters takes its value from."""

    def __init__(
        self, statement: Select[Any], dialect: Dialect, base: Sequence[BindParameter[Any]], own: Collection[str]
    ) -> None:
        compiled = statement.compile(dialect=dialect)
        if compiled.post_compile_params or compiled.literal_execute_params:
            raise _Uncacheable("expanding parameters")
        positions = {id(bind): i for i, bind in enumerate(base)}
        self.sql = compiled.string
        self.from_base: list[tuple[str, int]] = []
        for bind, name in compiled.bind_names.items():
            if name not in own:
                if id(bind) not in positions:
                    raise _Uncacheable(name)
                self.from_base.append((name, positions[id(bind)]))
        self.bind_processors = [
            (name, processor)
            for bind, name in compiled.bind_names.items()
            if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        ]
        self.column_types = [column.type for column in statement.selected_columns]
        self.result_processors: list[Callable[[Any], Any] | None] | None = None  # known at the first run

    def rows(self, connection: Connection, base: Sequence[BindParameter[Any]], values: dict[str, Any]) -> list[Any]:
        params = {name: base[i].effective_value for name, i in self.from_base}
        params.update(values)
        for name, processor in self.bind_processors:
            if name in params:
                params[name] = processor(params[name])
        processors = self.result_processors
        rows, description = driver_execute(connection, self.sql, params, describe=processors is None)
        if processors is None:
            dialect = connection.dialect
            processors = self.result_processors = [
                kind.dialect_impl(dialect).result_processor(dialect, column[1])
                for kind, column in zip(self.column_types, description or (), strict=True)
            ]
        if any(processors):
            rows = [tuple(p(v) if p else v for p, v in zip(processors, row, strict=True)) for row in rows]
        return rows


@dataclass(frozen=True)
class _CompiledShape:
    count: _Prepared | None
    rows: _Prepared
    names: dict[str, int]  # column name -> position in a row


_SHAPES: OrderedDict[Hashable, _CompiledShape | None] = OrderedDict()  # None: uncacheable, built each time
_SHAPES_LOCK = threading.Lock()
_MAX_SHAPES = 512


def _shape(query: ListQuery, after: list[Any] | None) -> Hashable:
    """What the statements of a query depend on besides the values (see `_values`)."""
    return (
        tuple((f.spec, f.op, len(f.values), f.values[0] if f.op == "isnull" else None) for f in query.filters),
        "lq_search" in _search_values(query),
        tuple(query.sort),
        query.cursor is None,
        None if after is None else tuple(value is None for value in after),
    )


def compiled_page(
    session: Session,
    statement: Select[Any],
    query: ListQuery,
    *,
    id_spec: FieldSpec,
    select: Callable[[Select[Any]], Select[Any]],
    shape: Hashable,
) -> Page:
    """`page` for a statement of labelled columns, compiled once per shape (see above); rows are tuples.

    `select(statement)` returns the filtered statement of labelled columns to page (`apply` and the columns,
    including every sort key's, labelled with its field name); it must depend on nothing but `statement`, the
    query's shape and `shape`, which says what else it depends on (e.g. the columns' schema).
    """
    base = statement._generate_cache_key()  # the values of the caller's statement, by position
    order = _order(query, id_spec)
    after = _after_values(query, order)
    if session.autoflush:
        session.flush()
    connection = session.connection()
    if base is None:
        return _built_page(session, select(statement), query, order, after)
    key = (connection.dialect.name, base.key, shape, id_spec, _shape(query, after))
    with _SHAPES_LOCK:
        known = key in _SHAPES
        compiled = _SHAPES.get(key)
        if known:
            _SHAPES.move_to_end(key)
    if not known:
        compiled = _compile_shape(select(statement), query, order, after, connection.dialect, base.bindparams)
        with _SHAPES_LOCK:
            _SHAPES[key] = compiled
            while len(_SHAPES) > _MAX_SHAPES:
                _SHAPES.popitem(last=False)
    if compiled is None:
        return _built_page(session, select(statement), query, order, after)
    values = _values(query, after)
    if compiled.count is not None:
        total = compiled.count.rows(connection, base.bindparams, values)[0][0]
        return Page(compiled.rows.rows(connection, base.bindparams, values), total, None)
    rows = compiled.rows.rows(connection, base.bindparams, values)
    names = compiled.names
    return _cursor_page(rows, query, order, lambda row, spec: row[names[spec.name]])


def _compile_shape(
    statement: Select[Any],
    query: ListQuery,
    order: _Order,
    after: list[Any] | None,
    dialect: Dialect,
    base: Sequence[BindParameter[Any]],
) -> _CompiledShape | None:
    """The statements of a shape compiled for the driver; None when one cannot be (`_Uncacheable`)."""
    count, rows_statement = _statements(statement, query, order, after)
    own = _values(query, after).keys()
    try:
        return _CompiledShape(
            count=_Prepared(count, dialect, base, own) if count is not None else None,
            rows=_Prepared(rows_statement, dialect, base, own),
            names={str(column.key): i for i, column in enumerate(rows_statement.selected_columns)},
        )
    except _Uncacheable:
        return None


def _built_page(
    session: Session, statement: Select[Any], query: ListQuery, order: _Order, after: list[Any] | None
) -> Page:
    """`compiled_page` for a shape that cannot be compiled once: built and run through SQLAlchemy Core."""
    count, rows_statement = _statements(statement, query, order, after)
    if count is not None:
        total = execute_core(session, count).scalar() or 0
        return Page(list(execute_core(session, rows_statement).all()), total, None)
    return _cursor_page(list(execute_core(session, rows_statement).all()), query, order, _value)


def _value(row: Any, spec: FieldSpec) -> Any:
    """A sort key's value in a row: the entity's attribute, or a column labelled with the field's name."""
    mapping = row._mapping
    if spec.name in mapping:
        return mapping[spec.name]
    return getattr(row[0], spec.expression.key)


def _after_bind(order: _Order, i: int, value: Any) -> Any:
    return _bind(f"lq_after{i}", _plain(value), _comparable(order.keys[i]))


def _after(order: _Order, values: list[Any]) -> ColumnElement[bool]:
    """Rows strictly after `values` in the order. Empty values come last in both directions, as users expect of
    "sort by amount"."""
    clauses = []
    for i, (spec, desc) in enumerate(zip(order.keys, order.directions, strict=True)):
        equal_before = [_equal(order, j, values[j]) for j in range(i)]
        if values[i] is None:  # NULLs are last: only the tie-breaking keys can be beyond
            beyond: ColumnElement[bool] = false()
        else:
            column, bound = _comparable(spec), _after_bind(order, i, values[i])
            beyond = column < bound if desc else column > bound
            if not order.never_null[i]:
                beyond = or_(beyond, column.is_(None))
        clauses.append(and_(*equal_before, beyond))
    return or_(*clauses)


def _comparable(spec: FieldSpec) -> Any:
    """Booleans have no `<` in SQLAlchemy: compare them as integers (false < true, as PostgreSQL orders them)."""
    return cast(spec.expression, Integer) if spec.type == "bool" else spec.expression


def _equal(order: _Order, i: int, value: Any) -> ColumnElement[bool]:
    column = _comparable(order.keys[i])
    return column.is_(None) if value is None else column == _after_bind(order, i, value)


def _plain(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


def select_fields(item: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    return item if fields is None else {k: v for k, v in item.items() if k in fields}
