"""Custom fields: the tenant's typed field definitions on contacts, accounts and deals, and their values.

Record services call the value functions: `field_specs` lets `cf.<name>` take part in list filters and sorts,
`values_for` fetches the values of a page of records in one query, `write_values` validates and stores the
`customFields` of a create/PUT/PATCH, `delete_values` and `move_values` serve hard deletes and merges. They
check no permission themselves: the record service has already checked the caller may touch the record.

`field_specs` runs on every list request, so the definitions behind it are cached per process and tenant, keyed
by a version in Redis that every committed change of a tenant's definitions replaces (see "Caching the specs").
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, cast
from uuid import UUID

import redis
from sqlalchemy import Boolean, ColumnElement, Text, Uuid, any_, bindparam, delete, func, literal, select, type_coerce
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators

from core.actor import Actor
from core.custom_fields.models import FIELD_ENTITIES, CustomField, CustomFieldValue
from core.custom_fields.schemas import CustomFieldCreate, CustomFieldRead, CustomFieldUpdate
from core.db import DriverStatement, on_commit
from core.errors import Conflict, NotFound, ValidationFailed
from core.events.service import emit
from core.ids import new_id
from core.records.query import FieldSpec
from core.redis import get_redis
from core.versioning import check_version

log = logging.getLogger(__name__)
MAX_FIELDS_PER_ENTITY = 200
MAX_TEXT_LENGTH = 10_000
MAX_OPTION_LENGTH = 100
MAX_NUMBER = Decimal(10) ** 14  # Numeric(20, 6)

_SPEC_TYPES = {
    "text": "str",
    "select": "str",
    "number": "decimal",
    "date": "date",
    "boolean": "bool",
    "multi_select": "str_list",
}
_VALUE_COLUMNS = {
    "text": "value_text",
    "select": "value_text",
    "number": "value_number",
    "date": "value_date",
    "boolean": "value_bool",
    "multi_select": "value_multi",
}


def _check_entity(entity_type: str) -> None:
    if entity_type not in FIELD_ENTITIES:
        raise ValidationFailed(
            f"Custom fields exist on {', '.join(FIELD_ENTITIES)}, not {entity_type!r}",
            details=[{"field": "entityType", "message": f"one of {', '.join(FIELD_ENTITIES)}"}],
        )


def definitions(session: Session, actor: Actor, entity_type: str) -> list[CustomField]:
    """The tenant's field definitions on one record type, in display order."""
    _check_entity(entity_type)
    return list(
        session.scalars(
            actor.readable(CustomField)
            .where(CustomField.entity_type == entity_type)
            .order_by(CustomField.display_order, CustomField.field_name)
        )
    )


# List queries ------------------------------------------------------------------------------------------


class _AnyOfJSONB(JSONB):
    """A JSON array of strings compared as a set: `overlap` and `contains` both mean "has any of"."""

    cache_ok = True

    class comparator_factory(JSONB.Comparator):  # noqa: N801  (SQLAlchemy's attribute name)
        def overlap(self, other: Any) -> ColumnElement[bool]:
            return self.expr.op("?|", is_comparison=True)(literal(list(other), ARRAY(Text)))

        def contains(self, other: Any, **kwargs: Any) -> ColumnElement[bool]:
            return self.overlap(other)


class _OrderedBoolean(Boolean):
    """A boolean that keyset cursors can compare with < and > (false before true): SQLAlchemy refuses
    ordering comparisons with a Python bool, so the value is bound as a parameter instead."""

    class comparator_factory(Boolean.Comparator):  # noqa: N801  (SQLAlchemy's attribute name)
        def operate(self, op: Any, *other: Any, **kwargs: Any) -> ColumnElement[Any]:
            if op in (operators.lt, operators.le, operators.gt, operators.ge):
                other = tuple(literal(o, Boolean()) if isinstance(o, bool) else o for o in other)
            return super().operate(op, *other, **kwargs)


def field_specs(session: Session, actor: Actor, entity_type: str, id_column: Any) -> dict[str, FieldSpec]:
    """A `FieldSpec` named `cf.<field_name>` for every custom field of the record type, for `query.parse`.

    Each expression is a scalar subquery correlated on `id_column` (e.g. `Contact.id`), typed as the field is:
    text/select filter as strings, number as decimal, date, boolean; multi_select filters with `eq`, `in` and
    `contains` all meaning "has any of" (`ne`: has none of) and does not sort. To sort by a custom field with
    cursor pages, add `spec.expression.label(spec.name)` to the statement's columns so the cursor can read it.

    Cached (see "Caching the specs"): no query while the tenant's definitions have not changed.
    """
    _check_entity(entity_type)
    return _cached_specs(session, actor, entity_type, id_column)


# (field id, field name, field type) of a record type's definitions, in display order: all the specs need.
Definitions = tuple[tuple[UUID, str, str], ...]


def _read_definitions(session: Session, actor: Actor, entity_types: Iterable[str]) -> dict[str, Definitions]:
    rows = session.execute(
        select(CustomField.entity_type, CustomField.id, CustomField.field_name, CustomField.field_type)
        .where(CustomField.tenant_id == actor.tenant_id, CustomField.entity_type.in_(list(entity_types)))
        .order_by(CustomField.display_order, CustomField.field_name)
    )
    found: dict[str, list[tuple[UUID, str, str]]] = {entity_type: [] for entity_type in entity_types}
    for entity_type, field_id, field_name, field_type in rows:
        found[entity_type].append((field_id, field_name, field_type))
    return {entity_type: tuple(fields) for entity_type, fields in found.items()}


def _specs_of(tenant_id: UUID, fields: Definitions, id_column: Any) -> dict[str, FieldSpec]:
    specs: dict[str, FieldSpec] = {}
    for field_id, field_name, field_type in fields:
        name = f"cf.{field_name}"
        column = getattr(CustomFieldValue, _VALUE_COLUMNS[field_type])
        value = (
            select(column)
            .where(
                CustomFieldValue.tenant_id == tenant_id,
                CustomFieldValue.custom_field_id == field_id,
                CustomFieldValue.entity_id == id_column,
            )
            .correlate_except(CustomFieldValue)
            .scalar_subquery()
        )
        if field_type == "multi_select":
            expression = type_coerce(func.coalesce(value, literal([], JSONB)), _AnyOfJSONB())
            specs[name] = FieldSpec(name, expression, "str_list", sortable=False)
        elif field_type == "boolean":
            specs[name] = FieldSpec(name, type_coerce(value, _OrderedBoolean()), "bool")
        else:
            specs[name] = FieldSpec(name, value, _SPEC_TYPES[field_type])
    return specs


# Caching the specs -------------------------------------------------------------------------------------
#
# Per process: (tenant, record type) -> the definitions, the version they are current for, when they were read,
# and the specs built from them per id column. The version is a random token in Redis per tenant, replaced
# after every committed change of the tenant's definitions, so every process sees the change at once. A reader
# takes the version *before* it reads the definitions: a cached entry is never newer than its version says.
#
# The writer fills its own process's cache as it announces: it reads the definitions (its change included) in
# its transaction, and after the commit installs them under the new token, but only when no other change was
# announced since it took the version it read them under (`SET ... GET` tells). A session that changed
# definitions reads them uncached (its change is neither committed nor announced yet). Without Redis nothing
# is cached. Entries expire after CACHE_SECONDS, bounding the staleness should an announcement be lost (Redis
# down at that moment, a process killed between commit and announcement, definitions written by raw SQL).

CACHE_SECONDS = 60.0
_CACHE_SIZE = 4096
_CHANGED = "custom_fields_changed"


class _Entry:
    __slots__ = ("version", "read_at", "fields", "specs")

    def __init__(self, version: str | None, read_at: float, fields: Definitions) -> None:
        self.version, self.read_at, self.fields = version, read_at, fields
        self.specs: dict[str, dict[str, FieldSpec]] = {}  # by id column


_cache: OrderedDict[tuple[UUID, str], _Entry] = OrderedDict()
_cache_lock = threading.Lock()


def _version_key(tenant_id: UUID) -> str:
    return f"cf:custom_fields:version:{tenant_id}"


def _current_version(tenant_id: UUID) -> tuple[bool, str | None]:
    """(Redis answered, the tenant's definitions version)."""
    try:
        return True, cast(str | None, get_redis().get(_version_key(tenant_id)))
    except redis.RedisError:
        log.warning("custom field specs uncached: Redis unavailable", exc_info=True)
        return False, None


def _keep(key: tuple[UUID, str], entry: _Entry) -> None:
    with _cache_lock:
        _cache[key] = entry
        _cache.move_to_end(key)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)


def _cached_specs(session: Session, actor: Actor, entity_type: str, id_column: Any) -> dict[str, FieldSpec]:
    tenant_id = actor.tenant_id
    answered, version = (False, None) if session.info.get(_CHANGED) else _current_version(tenant_id)
    if not answered:
        return _specs_of(tenant_id, _read_definitions(session, actor, [entity_type])[entity_type], id_column)
    key, column_key = (tenant_id, entity_type), str(id_column)
    with _cache_lock:
        entry = _cache.get(key)
        if entry is not None and (entry.version != version or time.monotonic() - entry.read_at >= CACHE_SECONDS):
            entry = None
        if entry is not None:
            _cache.move_to_end(key)
            specs = entry.specs.get(column_key)
            if specs is not None:
                return dict(specs)
    if entry is None:
        entry = _Entry(version, time.monotonic(), _read_definitions(session, actor, [entity_type])[entity_type])
        _keep(key, entry)
    specs = entry.specs[column_key] = _specs_of(tenant_id, entry.fields, id_column)
    return dict(specs)


def _definitions_changed(session: Session, actor: Actor) -> None:
    """A definition of the tenant changed in this session (flushed): read them uncached here from now on; after
    the commit, announce a new version and cache what this transaction committed (see above)."""
    session.info[_CHANGED] = True
    tenant_id = actor.tenant_id
    answered, before = _current_version(tenant_id)
    committed = _read_definitions(session, actor, FIELD_ENTITIES)

    def announce() -> None:
        with _cache_lock:
            for key in [k for k in _cache if k[0] == tenant_id]:
                del _cache[key]
        token = secrets.token_hex(16)
        replaced = get_redis().set(_version_key(tenant_id), token, get=True)
        if answered and replaced == before:
            now = time.monotonic()
            for entity_type, fields in committed.items():
                _keep((tenant_id, entity_type), _Entry(token, now, fields))

    on_commit(session, announce)


def clear_cache() -> None:
    """Forget every cached definition of this process (tests)."""
    with _cache_lock:
        _cache.clear()


# Reading values ----------------------------------------------------------------------------------------


def _json_value(field_type: str, row: Any) -> Any:
    return _tuple_value(field_type, row.value_text, row.value_number, row.value_date, row.value_bool, row.value_multi)


def _tuple_value(
    field_type: str, text: str | None, number: Decimal | None, day: date | None, flag: bool | None, multi: Any
) -> Any:
    """A stored value as the API shows it: numbers as int when whole, dates in ISO form, multi-select a list."""
    if field_type in ("text", "select"):
        return text
    if field_type == "number":
        if number is None:
            return None
        return int(number) if number == number.to_integral_value() else float(number)
    if field_type == "date":
        return day.isoformat() if day is not None else None
    if field_type == "boolean":
        return flag
    return list(multi or [])


# Compiled once and run on the driver (a list page runs it every time): the ids travel as one uuid[] parameter.
_VALUES_OF_RECORDS = DriverStatement(
    select(
        CustomFieldValue.entity_id,
        CustomField.field_name,
        CustomField.field_type,
        CustomFieldValue.value_text,
        CustomFieldValue.value_number,
        CustomFieldValue.value_date,
        CustomFieldValue.value_bool,
        CustomFieldValue.value_multi,
    )
    .join(CustomField, CustomField.id == CustomFieldValue.custom_field_id)
    .where(
        CustomFieldValue.tenant_id == bindparam("tenant_id", type_=Uuid()),
        CustomField.tenant_id == bindparam("tenant_id", type_=Uuid()),
        CustomFieldValue.entity_type == bindparam("entity_type", type_=CustomFieldValue.entity_type.type),
        CustomFieldValue.entity_id == any_(bindparam("entity_ids", type_=ARRAY(Uuid()))),
    )
    .order_by(CustomField.display_order, CustomField.field_name)
)


def values_for(session: Session, actor: Actor, entity_type: str, entity_ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
    """The stored custom field values of many records in one query: {record id: {field_name: value}}.

    Every requested id is a key (an empty dict when it has no values). Values are JSON-ready: text and
    select as strings, numbers as int when whole else float, dates as ISO strings, multi_select as lists.
    Fields without a value are absent.
    """
    _check_entity(entity_type)
    result: dict[UUID, dict[str, Any]] = {entity_id: {} for entity_id in entity_ids}
    if not entity_ids:
        return result
    rows = _VALUES_OF_RECORDS.rows(
        session, {"tenant_id": actor.tenant_id, "entity_type": entity_type, "entity_ids": list(result)}
    )
    for entity_id, field_name, field_type, *values in rows:
        result.setdefault(entity_id, {})[field_name] = _tuple_value(field_type, *values)
    return result


# Writing values ----------------------------------------------------------------------------------------


class _Invalid(Exception):
    pass


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (isinstance(value, list) and not value)


def _coerce(field: CustomField, value: Any) -> Any:
    """The value as stored for the field's type, or `_Invalid` saying what is wrong with it."""
    kind = field.field_type
    options = field.field_options or []
    if kind == "text":
        if not isinstance(value, str):
            raise _Invalid("must be text")
        if "\x00" in value:
            raise _Invalid("must not contain NUL characters")
        if len(value) > MAX_TEXT_LENGTH:
            raise _Invalid(f"at most {MAX_TEXT_LENGTH} characters")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            raise _Invalid("must be a number")
        if isinstance(value, float) and not math.isfinite(value):
            raise _Invalid("must be a finite number")
        try:
            number = Decimal(str(value))
        except InvalidOperation as exc:
            raise _Invalid("must be a number") from exc
        if not number.is_finite() or abs(number) >= MAX_NUMBER:
            raise _Invalid(f"must be a number below {MAX_NUMBER:,} in magnitude")
        return number
    if kind == "date":
        if isinstance(value, datetime):
            raise _Invalid("must be a date (YYYY-MM-DD), not a date and time")
        if isinstance(value, date):
            return value
        if not isinstance(value, str):
            raise _Invalid("must be a date (YYYY-MM-DD)")
        try:
            return date.fromisoformat(value.strip())
        except ValueError as exc:
            raise _Invalid("must be a date (YYYY-MM-DD)") from exc
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _Invalid("must be true or false")
        return value
    if kind == "select":
        if not isinstance(value, str) or value not in options:
            raise _Invalid(f"must be one of: {', '.join(options)}")
        return value
    # multi_select
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Invalid("must be a list of strings")
    unknown = [v for v in value if v not in options]
    if unknown:
        raise _Invalid(f"unknown option(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(options)}")
    return list(dict.fromkeys(value))


def _store(row: CustomFieldValue, field: CustomField, value: Any) -> None:
    row.value_text = row.value_number = row.value_date = row.value_bool = row.value_multi = None  # type: ignore[assignment]
    setattr(row, _VALUE_COLUMNS[field.field_type], value)


def write_values(
    session: Session,
    actor: Actor,
    entity_type: str,
    entity_id: UUID,
    values: Mapping[str, Any] | None,
    *,
    partial: bool,
) -> bool:
    """Validate and store a record's custom field values (the `customFields` object of a write); returns
    whether any stored value changed (the record's version moves with its custom fields).

    `partial=True` (PATCH) changes only the fields given; `partial=False` (create, PUT) replaces the set:
    fields not given are cleared, and required fields must be given and non-empty. `None` (or "", or [])
    clears a value. Every problem is reported at once in one `ValidationFailed` whose details name
    `customFields.<name>`; nothing is written unless all values are valid.
    """
    values = dict(values or {})
    fields = {f.field_name: f for f in definitions(session, actor, entity_type)}
    problems: list[dict[str, Any]] = []
    wanted: dict[UUID, tuple[CustomField, Any]] = {}
    for name, value in values.items():
        field = fields.get(name)
        if field is None:
            problems.append({"field": f"customFields.{name}", "message": f"unknown custom field on {entity_type}"})
            continue
        if _is_empty(value):
            if field.is_required:
                problems.append({"field": f"customFields.{name}", "message": "required"})
            wanted[field.id] = (field, None)
            continue
        try:
            wanted[field.id] = (field, _coerce(field, value))
        except _Invalid as exc:
            problems.append({"field": f"customFields.{name}", "message": str(exc)})
    if not partial:
        for name, field in fields.items():
            if name not in values:
                if field.is_required:
                    problems.append({"field": f"customFields.{name}", "message": "required"})
                wanted[field.id] = (field, None)
    if problems:
        names = ", ".join(p["field"] for p in problems)
        raise ValidationFailed(f"Invalid custom field values: {names}", details=problems)
    if not wanted:
        return False

    existing = {
        row.custom_field_id: row
        for row in session.scalars(
            select(CustomFieldValue).where(
                CustomFieldValue.tenant_id == actor.tenant_id,
                CustomFieldValue.entity_id == entity_id,
                CustomFieldValue.custom_field_id.in_(list(wanted)),
            )
        )
    }
    changed = False
    for field_id, (field, value) in wanted.items():
        row = existing.get(field_id)
        if value is None:
            if row is not None:
                session.delete(row)
                changed = True
            continue
        before = _json_value(field.field_type, row) if row is not None else None
        if row is None:
            row = CustomFieldValue(
                id=new_id(),
                tenant_id=actor.tenant_id,
                custom_field_id=field_id,
                entity_type=entity_type,
                entity_id=entity_id,
            )
            session.add(row)
        _store(row, field, value)
        changed = changed or _json_value(field.field_type, row) != before
    session.flush()
    return changed


def delete_values(session: Session, actor: Actor, entity_type: str, entity_id: UUID) -> None:
    """Remove every custom field value of one record (when the record itself is removed for good)."""
    _check_entity(entity_type)
    session.execute(
        delete(CustomFieldValue).where(
            CustomFieldValue.tenant_id == actor.tenant_id,
            CustomFieldValue.entity_type == entity_type,
            CustomFieldValue.entity_id == entity_id,
        )
    )


def move_values(session: Session, actor: Actor, entity_type: str, from_id: UUID, to_id: UUID) -> None:
    """Merge support: the survivor `to_id` keeps its own values and takes `from_id`'s where it has none.

    Values of `from_id` that the survivor already has stay on `from_id` (the merged-away record), so that
    nothing is lost and the merge can be undone.
    """
    _check_entity(entity_type)
    session.flush()
    survivor_fields = select(CustomFieldValue.custom_field_id).where(
        CustomFieldValue.tenant_id == actor.tenant_id, CustomFieldValue.entity_id == to_id
    )
    moving = session.scalars(
        select(CustomFieldValue).where(
            CustomFieldValue.tenant_id == actor.tenant_id,
            CustomFieldValue.entity_type == entity_type,
            CustomFieldValue.entity_id == from_id,
            CustomFieldValue.custom_field_id.not_in(survivor_fields),
        )
    ).all()
    for row in moving:
        row.entity_id = to_id
    session.flush()


# Definitions -------------------------------------------------------------------------------------------


def to_read(field: CustomField) -> CustomFieldRead:
    return CustomFieldRead.model_validate(field)


def list_fields(session: Session, actor: Actor, *, entity_type: str | None = None) -> list[CustomField]:
    actor.require("custom_fields", "read")
    statement = actor.readable(CustomField)
    if entity_type is not None:
        _check_entity(entity_type)
        statement = statement.where(CustomField.entity_type == entity_type)
    return list(
        session.scalars(statement.order_by(CustomField.entity_type, CustomField.display_order, CustomField.field_name))
    )


def get(session: Session, actor: Actor, field_id: UUID) -> CustomField:
    actor.require("custom_fields", "read")
    field = session.scalar(actor.readable(CustomField).where(CustomField.id == field_id))
    if field is None:
        raise NotFound("Custom field not found")
    return field


def _check_options(field_type: str, options: list[str] | None) -> list[str] | None:
    """Options belong to select and multi_select (at least one, unique, non-empty) and to nothing else."""
    if field_type not in ("select", "multi_select"):
        if options:
            raise ValidationFailed(
                f"A {field_type} field takes no options",
                details=[{"field": "fieldOptions", "message": "only select and multi_select fields have options"}],
            )
        return None
    cleaned = [o.strip() for o in options or []]
    problem = None
    if not cleaned:
        problem = "give at least one option"
    elif any(not o for o in cleaned):
        problem = "options must not be empty"
    elif any(len(o) > MAX_OPTION_LENGTH for o in cleaned):
        problem = f"options are at most {MAX_OPTION_LENGTH} characters"
    elif len(set(cleaned)) != len(cleaned):
        problem = "options must be unique"
    if problem:
        raise ValidationFailed(f"Invalid options: {problem}", details=[{"field": "fieldOptions", "message": problem}])
    return cleaned


def _has_values(session: Session, actor: Actor, field: CustomField) -> bool:
    return (
        session.scalar(
            select(CustomFieldValue.id)
            .where(CustomFieldValue.tenant_id == actor.tenant_id, CustomFieldValue.custom_field_id == field.id)
            .limit(1)
        )
        is not None
    )


def _options_in_use(session: Session, actor: Actor, field: CustomField, removed: Iterable[str]) -> list[str]:
    removed = list(removed)
    if not removed:
        return []
    used: set[str] = set()
    statement = select(CustomFieldValue).where(
        CustomFieldValue.tenant_id == actor.tenant_id, CustomFieldValue.custom_field_id == field.id
    )
    if field.field_type == "select":
        statement = statement.where(CustomFieldValue.value_text.in_(removed))
    else:
        statement = statement.where(type_coerce(CustomFieldValue.value_multi, _AnyOfJSONB()).overlap(removed))
    for row in session.scalars(statement.limit(1000)):
        used.update(row.value_multi or [] if field.field_type == "multi_select" else [row.value_text or ""])
    used &= set(removed)
    return sorted(used)


def create(session: Session, actor: Actor, data: CustomFieldCreate) -> CustomField:
    actor.require("custom_fields", "create")
    options = _check_options(data.field_type, data.field_options)
    existing = session.scalars(
        select(CustomField.field_name).where(
            CustomField.tenant_id == actor.tenant_id, CustomField.entity_type == data.entity_type
        )
    ).all()
    if data.field_name in existing:
        raise Conflict(
            f"A custom field named {data.field_name} already exists on {data.entity_type}",
            details=[{"field": "fieldName", "message": "already in use"}],
        )
    if len(existing) >= MAX_FIELDS_PER_ENTITY:
        raise ValidationFailed(f"At most {MAX_FIELDS_PER_ENTITY} custom fields per record type")
    field = CustomField(
        id=new_id(),
        tenant_id=actor.tenant_id,
        **data.model_dump(exclude={"field_options"}),
        field_options=options,
    )
    session.add(field)
    session.flush()
    _definitions_changed(session, actor)
    emit(session, actor, "custom_field.created", entity_type="custom_fields", entity_id=field.id)
    return field


def update(session: Session, actor: Actor, field_id: UUID, data: CustomFieldUpdate) -> CustomField:
    """Change label, options, required flag, order or description. The name never changes; the type only
    while no record has a value; an option still used by a record cannot be removed."""
    actor.require("custom_fields", "update")
    field = get(session, actor, field_id)
    check_version(field, data.version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    name = changes.pop("field_name", None)
    if name is not None and name != field.field_name:
        raise ValidationFailed(
            "A custom field's name cannot change; create a new field instead",
            details=[{"field": "fieldName", "message": "cannot be changed"}],
        )
    for key in ("field_label", "field_type", "is_required", "display_order"):
        if key in changes and changes[key] is None:
            raise ValidationFailed(f"{key} cannot be null", details=[{"field": key, "message": "must not be null"}])
    new_type = changes.get("field_type", field.field_type)
    if new_type != field.field_type and _has_values(session, actor, field):
        raise Conflict(
            f"Records already have values for {field.field_name}; its type cannot change",
            details=[{"field": "fieldType", "message": "values exist"}],
        )
    if "field_options" in changes or new_type != field.field_type:
        options = _check_options(new_type, changes.get("field_options", field.field_options))
        if new_type == field.field_type:
            removed = set(field.field_options or []) - set(options or [])
            in_use = _options_in_use(session, actor, field, removed)
            if in_use:
                raise Conflict(
                    f"Options still used by records cannot be removed: {', '.join(in_use)}",
                    details=[{"field": "fieldOptions", "message": f"in use: {', '.join(in_use)}"}],
                )
        changes["field_options"] = options
    for key, value in changes.items():
        setattr(field, key, value)
    session.flush()
    _definitions_changed(session, actor)
    emit(session, actor, "custom_field.updated", entity_type="custom_fields", entity_id=field.id)
    return field


def delete_field(session: Session, actor: Actor, field_id: UUID) -> None:
    """Remove a definition and, with it, every value records had for it."""
    actor.require("custom_fields", "delete")
    field = get(session, actor, field_id)
    session.execute(
        delete(CustomFieldValue).where(
            CustomFieldValue.tenant_id == actor.tenant_id, CustomFieldValue.custom_field_id == field.id
        )
    )
    session.delete(field)
    session.flush()
    _definitions_changed(session, actor)
    emit(session, actor, "custom_field.deleted", entity_type="custom_fields", entity_id=field_id)


__all__ = [
    "clear_cache",
    "create",
    "definitions",
    "delete_field",
    "delete_values",
    "field_specs",
    "get",
    "list_fields",
    "move_values",
    "to_read",
    "update",
    "values_for",
    "write_values",
]
