"""One batch of import rows, written in the caller's transaction: the job's unit of exactly-once work.

Rows are parsed and validated in Python with the records' own schemas (`ContactCreate`, `AccountUpdate`, ...)
and the custom fields' own value rules (`parse_batch`, which needs no database and runs ahead in a thread while
the previous batch is written). Duplicate keys are looked up in bulk (`Duplicates`: once per attempt for the
whole file, then only keys a batch meets for the first time). New records go in with one INSERT per table for
the whole batch (records, custom field values, `*.created` events); should that fail in the database, the batch
is written again row by row, each in a savepoint, so that only the rows the database refuses fail. Updates of
existing records (duplicate policy `update`) go through the record service, one row per savepoint, so that
versions, events and validation apply as for any other update.

Each row is all-or-nothing (the record, its custom field values and its event); a bad row becomes a
`failed` row result naming the field and the problem and never stops the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ValidationError
from pydantic_core import to_json
from sqlalchemy import Table, Text, any_, bindparam, func, or_, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core.accounts import service as accounts
from core.accounts.models import Account
from core.accounts.schemas import AccountCreate, AccountRead, AccountUpdate, domain_of
from core.actor import Actor
from core.contacts import service as contacts
from core.contacts.models import Contact
from core.contacts.schemas import ContactCreate, ContactRead, ContactUpdate
from core.custom_fields.models import CustomField, CustomFieldValue

# The custom fields' own value rules and stored shapes (one definition of what a valid value is).
from core.custom_fields.service import _VALUE_COLUMNS, _coerce, _Invalid, _json_value
from core.errors import DomainError, NotFound, ValidationFailed
from core.events.service import emit_many
from core.ids import new_id
from core.imports import mapping
from core.imports.mapping import CUSTOM_PREFIX, Column, CustomFieldInfo
from core.records.bulk import item_error
from core.records.owners import resolve_owner
from core.users.models import User

MAX_CELL_CHARS = 1_000
_VALUE_COLUMN_NAMES = tuple(sorted(set(_VALUE_COLUMNS.values())))
_OWNER = object()  # the owner column's converter: resolved against the users, in the batch's transaction


# What a kind of record needs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordKind:
    entity_type: str
    label: str
    create_schema: type[BaseModel]
    update_schema: type[BaseModel]
    read_schema: type[BaseModel]
    table: Table
    created_event: str
    reference_field: str  # accountId / parentId: a record of `accounts` the importer must see
    update: Callable[[Session, Actor, UUID, Any], Any]


KINDS: dict[str, RecordKind] = {
    "contacts": RecordKind(
        "contacts",
        "contact",
        ContactCreate,
        ContactUpdate,
        ContactRead,
        Contact.__table__,  # type: ignore[arg-type]
        "contact.created",
        "accountId",
        contacts.update,
    ),
    "accounts": RecordKind(
        "accounts",
        "account",
        AccountCreate,
        AccountUpdate,
        AccountRead,
        Account.__table__,  # type: ignore[arg-type]
        "account.created",
        "parentId",
        accounts.update,
    ),
}


# The plan: what every batch of one import shares -----------------------------------------------------------


@dataclass
class CustomTarget:
    id: UUID
    info: CustomFieldInfo


@dataclass
class Plan:
    """An import's columns, custom fields and policy, plus what was looked up once (owners by email)."""

    import_id: UUID
    tenant_id: UUID
    kind: RecordKind
    policy: str
    headers: list[str]
    columns: list[Column]
    custom: dict[str, CustomTarget]  # in display order
    owners: dict[str, UUID | str] = field(default_factory=dict)  # raw value -> user id, or why not
    duplicates: Duplicates = field(init=False)
    _converters: list[tuple[int, str, Any]] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.duplicates = Duplicates(self.kind)

    @cached_property
    def column_of(self) -> dict[str, str]:
        return {c.field: c.header for c in self.columns}

    @cached_property
    def index_of(self) -> dict[str, int]:
        return {c.field: c.index for c in self.columns}

    @property
    def converters(self) -> list[tuple[int, str, Any]]:
        """(column index, field, how to turn a cell into the field's input: None when as is)."""
        if self._converters is None:
            self._converters = [(c.index, c.field, self._converter(c.field)) for c in self.columns]
        return self._converters

    def _converter(self, field_name: str) -> Any:
        if field_name == mapping.OWNER_FIELD:
            return _OWNER
        if field_name.startswith(CUSTOM_PREFIX):
            info = self.custom[field_name[len(CUSTOM_PREFIX) :]].info
            return lambda raw: mapping.custom_value(info, raw)
        if field_name in mapping.CONVERTED_FIELDS:
            return lambda raw: mapping.field_value(field_name, raw)
        return None


def load_plan(
    session: Session, actor: Actor, *, import_id: UUID, entity_type: str, policy: str, headers: list[str], columns: list
) -> Plan:
    """The plan of an import from its stored mapping; columns of custom fields deleted since are dropped."""
    definitions = session.scalars(
        actor.readable(CustomField)
        .where(CustomField.entity_type == entity_type)
        .order_by(CustomField.display_order, CustomField.field_name)
    )
    custom = {
        f.field_name: CustomTarget(
            f.id,
            CustomFieldInfo(f.field_name, f.field_label, f.field_type, tuple(f.field_options or ()), f.is_required),
        )
        for f in definitions
    }
    kept = [
        Column(c["index"], c["header"], c["field"])
        for c in columns
        if not c["field"].startswith(CUSTOM_PREFIX) or c["field"][len(CUSTOM_PREFIX) :] in custom
    ]
    return Plan(import_id, actor.tenant_id, KINDS[entity_type], policy, headers, kept, custom)


# Rows ------------------------------------------------------------------------------------------------------


@dataclass
class Row:
    number: int
    cells: list[str]
    values: dict[str, Any] = field(default_factory=dict)  # API name -> value: the non-empty mapped cells
    custom: dict[str, Any] = field(default_factory=dict)  # custom field name -> typed value
    problems: list[tuple[str | None, str]] = field(default_factory=list)
    patch_problems: list[tuple[str | None, str]] = field(default_factory=list)
    create: BaseModel | None = None
    patch: BaseModel | None = None
    key: tuple[str | None, str | None] = (None, None)  # contacts: (email, None); accounts: (domain, name)
    owner_raw: str | None = None
    owner_id: UUID | None = None
    prepared: Pending | None = None


@dataclass
class Outcome:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    rows: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)  # import_rows to insert


def _cell(cells: list[str], index: int) -> str:
    return cells[index] if index < len(cells) else ""


def row_values(headers: Sequence[str], cells: Sequence[str]) -> dict[str, str]:
    """The row's cells by header (for the user to see what was in a row that failed)."""
    values: dict[str, str] = {}
    for index, cell in enumerate(cells):
        header = headers[index] if index < len(headers) and headers[index] else f"(column {index + 1})"
        values.setdefault(header, cell[:MAX_CELL_CHARS].replace("\x00", "\ufffd"))
    return values


def _owner(session: Session, actor: Actor, plan: Plan, raw: str) -> UUID | str:
    """A user by id or email whom the importer may assign records to, or why not."""
    key = raw.strip().lower()
    if key in plan.owners:
        return plan.owners[key]
    try:
        user_id: UUID | None = UUID(key)
    except ValueError:
        user_id = session.scalar(
            select(User.id).where(User.tenant_id == actor.tenant_id, User.email == key, User.deleted_at.is_(None))
        )
    found: UUID | str
    if user_id is None:
        found = f"no user with the email or id {raw.strip()!r} in your workspace"
    else:
        try:
            found = resolve_owner(session, actor, user_id)
        except ValidationFailed as exc:
            found = exc.message
    plan.owners[key] = found
    return found


def _problems(exc: ValidationError) -> list[tuple[str | None, str]]:
    error = item_error(exc) or {}
    found: list[tuple[str | None, str]] = []
    for detail in error.get("details") or []:
        message = "required" if detail.get("type") == "missing" else detail["message"]
        found.append((detail["field"].split(".", 1)[0] or None, message))
    return found


def _validate(schema: type[BaseModel], values: dict[str, Any]) -> tuple[BaseModel | None, list]:
    try:
        return schema.model_validate(values), []
    except ValidationError as exc:
        return None, _problems(exc)


def _custom_problems(plan: Plan, row: Row) -> tuple[list[tuple[str | None, str]], list[tuple[str | None, str]]]:
    """Check and type the row's custom values by each field's rules (`row.custom` becomes the values to
    store). Returns the invalid values, and the required fields a new record would lack."""
    invalid: list[tuple[str | None, str]] = []
    typed: dict[str, Any] = {}
    for name, value in row.custom.items():
        target = plan.custom[name]
        try:
            typed[name] = _coerce(_as_field(target.info), value)
        except _Invalid as exc:
            invalid.append((f"{CUSTOM_PREFIX}{name}", str(exc)))
    missing: list[tuple[str | None, str]] = [
        (f"{CUSTOM_PREFIX}{name}", "required")
        for name, target in plan.custom.items()
        if target.info.is_required and name not in row.custom
    ]
    row.custom = typed
    return invalid, missing


def _as_field(info: CustomFieldInfo) -> Any:
    return SimpleNamespace(field_type=info.field_type, field_options=list(info.options))


def parse(plan: Plan, number: int, cells: list[str]) -> Row:
    """Map, translate and validate one row (no database: batches are parsed ahead, while the previous one
    is written). `create` is set when it is a valid new record; under the update policy, `patch` when its
    non-empty values are a valid update of an existing one. `problems` say why a new record cannot be
    created, `patch_problems` why the update cannot be made. The owner is resolved later (`resolve_owners`)."""
    row = Row(number, cells)
    width = len(cells)
    for index, field_name, convert in plan.converters:
        raw = cells[index] if index < width else ""
        if not raw or raw.isspace():
            continue
        if raw[0] == "'":
            raw = mapping.unescape_formula(raw)
        if convert is _OWNER:
            row.owner_raw = raw
        elif convert is None:
            row.values[field_name] = raw
        elif field_name.startswith(CUSTOM_PREFIX):
            row.custom[field_name[len(CUSTOM_PREFIX) :]] = convert(raw)
        else:
            row.values[field_name] = convert(raw)
    create, create_problems = _validate(plan.kind.create_schema, row.values)
    invalid, missing = _custom_problems(plan, row)
    row.problems = create_problems + invalid + missing
    row.create = create if not row.problems else None
    if plan.policy == "update":
        patch, patch_problems = _validate(plan.kind.update_schema, row.values)
        row.patch_problems = patch_problems + invalid
        row.patch = patch if not row.patch_problems else None
    model = create or (row.patch if plan.policy == "update" else None)
    if model is not None:
        row.key = _key(plan.kind, model)
    return row


def parse_batch(plan: Plan, rows: list[tuple[int, list[str]]]) -> list[Row]:
    """Parse rows and build ahead the records of those that will most likely be new (all but the owner and
    the timestamps, which the batch's transaction sets)."""
    parsed = [parse(plan, number, cells) for number, cells in rows]
    for row in parsed:
        if row.create is not None and (plan.policy == "create" or plan.duplicates.find(row.key) is None):
            row.prepared = prepare(plan, row)
    return parsed


def prepare(plan: Plan, row: Row) -> Pending:
    """A valid row as the INSERTs of its record and custom values and its `*.created` event. The owner is
    still to set; `created_at`/`updated_at` are left to the columns' defaults (the transaction's time)."""
    kind = plan.kind
    model = row.create
    assert model is not None
    record_id = new_id()
    # The validated values as they are (a flat model: no copy needed, nothing here changes them).
    record = {k: v for k, v in vars(model).items() if k not in ("owner_id", "custom_fields")}
    record.update(id=record_id, tenant_id=plan.tenant_id, owner_id=None, version=1)
    if kind.entity_type == "accounts":
        record["domain"] = domain_of(model.website, model.email)  # type: ignore[attr-defined]
    values = []
    shown: dict[str, Any] = {}
    for name, target in plan.custom.items():
        if name not in row.custom:
            continue
        stored: dict[str, Any] = dict.fromkeys(_VALUE_COLUMN_NAMES)
        stored[_VALUE_COLUMNS[target.info.field_type]] = row.custom[name]
        values.append(
            {
                "id": new_id(),
                "tenant_id": plan.tenant_id,
                "custom_field_id": target.id,
                "entity_type": kind.entity_type,
                "entity_id": record_id,
                **stored,
            }
        )
        shown[name] = _json_value(target.info.field_type, SimpleNamespace(**stored))
    read = {**record, "last_contacted_at": None, "created_at": None, "updated_at": None}
    return Pending(row, record, values, (record_id, {"record": read_payload(kind, read, shown)}))


def resolve_owners(session: Session, actor: Actor, plan: Plan, rows: list[Row]) -> None:
    """Owner cells name a user by email or id whom the importer may assign records to; a row naming anyone
    else fails. Each distinct value is looked up once per import."""
    for row in rows:
        if row.owner_raw is None:
            continue
        owner = _owner(session, actor, plan, row.owner_raw)
        if isinstance(owner, str):
            problem = (mapping.OWNER_FIELD, owner)
            row.problems.insert(0, problem)
            row.patch_problems.insert(0, problem)
            row.create = row.patch = None
        else:
            row.owner_id = owner
            if row.patch is not None:
                row.patch = row.patch.model_copy(update={"owner_id": owner})


def _key(kind: RecordKind, model: Any) -> tuple[str | None, str | None]:
    if kind.entity_type == "contacts":
        return (model.email or None, None)
    return (domain_of(model.website, model.email), _name_key(model.name))


def _name_key(name: str | None) -> str | None:
    return name.strip().lower() or None if name else None


def raw_key(plan: Plan, cells: list[str]) -> tuple[str | None, str | None]:
    """The duplicate key of a row from its cells, before validation (to look the file's keys up at once)."""

    def cell(field_name: str) -> str:
        index = plan.index_of.get(field_name)
        return _cell(cells, index).strip() if index is not None else ""

    if plan.kind.entity_type == "contacts":
        return (cell("email").lower() or None, None)
    return (domain_of(cell("website") or None, cell("email") or None), _name_key(cell("name")))


# Looking up what exists ------------------------------------------------------------------------------------

LOOKUP_CHUNK = 20_000


def _texts(values: list[str]) -> Any:
    """A list as one array parameter (not one parameter per value)."""
    return bindparam(None, values, type_=ARRAY(Text))


class Duplicates:
    """Which record a row duplicates: a live record of the tenant (contacts: same email; accounts: same domain,
    else same name) or one created from an earlier row. The whole tenant counts, not only what the importer
    may see: a rep importing a lead someone else owns would otherwise create it twice.

    Keys are looked up in bulk (`load`: the keys of the rows still to import, once per attempt; any other key
    when a batch meets it) and remembered, so a batch asks the database nothing in the common case.
    """

    def __init__(self, kind: RecordKind) -> None:
        self.kind = kind
        # "e:<email>", "d:<domain>", "n:<name>" -> record id as text, or "" for none. Only strings: the garbage
        # collector then leaves the dict alone, however large it grows.
        self.known: dict[str, str] = {}

    def keys(self, key: tuple[str | None, str | None]) -> list[str]:
        first, second = key
        prefix = "e:" if self.kind.entity_type == "contacts" else "d:"
        return ([prefix + first] if first else []) + (["n:" + second] if second else [])

    def load(self, session: Session, actor: Actor, keys: Iterable[str]) -> None:
        """Look up the keys not yet known, `LOOKUP_CHUNK` at a time."""
        missing = list(dict.fromkeys(k for k in keys if k not in self.known))
        for start in range(0, len(missing), LOOKUP_CHUNK):
            chunk = missing[start : start + LOOKUP_CHUNK]
            for k in chunk:
                self.known[k] = ""
            for key, record_id in self._query(session, actor, chunk):
                if not self.known.get(key):
                    self.known[key] = str(record_id)

    def _query(self, session: Session, actor: Actor, keys: list[str]) -> list[tuple[str, UUID]]:
        # Plan with the actual keys: a generic plan of a prepared statement (the driver prepares repeated ones)
        # compares every row of the tenant with every key, where a custom plan hashes the keys.
        session.execute(select(func.set_config("plan_cache_mode", "force_custom_plan", True)))
        if self.kind.entity_type == "contacts":
            emails = [k[2:] for k in keys]
            statement = (
                select(Contact.id, Contact.email)
                .where(
                    Contact.tenant_id == actor.tenant_id,
                    Contact.deleted_at.is_(None),
                    Contact.email.is_not(None),
                    Contact.email == any_(_texts(emails)),
                )
                .order_by(Contact.created_at, Contact.id)
            )
            return [("e:" + str(row.email), row.id) for row in session.execute(statement)]
        domains = [k[2:] for k in keys if k.startswith("d:")]
        names = [k[2:] for k in keys if k.startswith("n:")]
        lowered = func.lower(Account.name).label("lowered")
        statement = (
            select(Account.id, Account.domain, lowered)
            .where(
                Account.tenant_id == actor.tenant_id,
                Account.deleted_at.is_(None),
                or_(Account.domain == any_(_texts(domains)), lowered == any_(_texts(names))),
            )
            .order_by(Account.created_at, Account.id)
        )
        found: list[tuple[str, UUID]] = []
        wanted_domains, wanted_names = set(domains), set(names)
        for row in session.execute(statement):
            record_id, domain, name = row.id, row.domain, row.lowered
            if domain in wanted_domains:
                found.append(("d:" + domain, record_id))
            if name in wanted_names:
                found.append(("n:" + name, record_id))
        return found

    def find(self, key: tuple[str | None, str | None]) -> UUID | None:
        """The record a row with this key duplicates (by domain before name), if any."""
        for k in self.keys(key):
            record_id = self.known.get(k)
            if record_id:
                return UUID(record_id)
        return None

    def remember(self, key: tuple[str | None, str | None], record_id: UUID) -> None:
        for k in self.keys(key):
            if not self.known.get(k):
                self.known[k] = str(record_id)

    def forget(self, record_id: UUID) -> None:
        text = str(record_id)
        for k in [k for k, v in self.known.items() if v == text]:
            self.known[k] = ""


def _check_references(session: Session, actor: Actor, kind: RecordKind, rows: list[Row]) -> None:
    """accountId / parentId must name an account the importer can see (one query for the batch)."""
    attribute = "account_id" if kind.entity_type == "contacts" else "parent_id"
    wanted = {getattr(r.create, attribute) for r in rows if r.create is not None and getattr(r.create, attribute)}
    if not wanted:
        return
    visible = set(session.scalars(accounts.readable(actor).with_only_columns(Account.id).where(Account.id.in_(wanted))))
    for row in rows:
        if row.create is not None and getattr(row.create, attribute) not in (None, *visible):
            row.create = None
            row.problems.append((kind.reference_field, "no such account (use the id of an account you can see)"))


# Writing ---------------------------------------------------------------------------------------------------


@dataclass
class Pending:
    row: Row
    record: dict[str, Any]
    values: list[dict[str, Any]]
    event: tuple[UUID, dict[str, Any]]


class Batch:
    """The rows of one batch in file order, decided and written in the caller's transaction."""

    def __init__(self, session: Session, actor: Actor, plan: Plan) -> None:
        self.session = session
        self.actor = actor
        self.plan = plan
        self.outcome = Outcome()
        self.pending: list[Pending] = []
        self.pending_ids: set[UUID] = set()
        self._now: datetime | None = None

    # results

    def _result(self, row: Row, outcome: str, message: str, field_name: str | None = None, **extra: Any) -> None:
        column = self.plan.column_of.get(field_name) if field_name else None
        self.outcome.results.append(
            {
                "id": new_id(),
                "tenant_id": self.actor.tenant_id,
                "import_id": self.plan.import_id,
                "row_number": row.number,
                "outcome": outcome,
                "field": field_name[:100] if field_name else None,
                "column": column,
                "message": message,
                "values": row_values(self.plan.headers, row.cells) if outcome == "failed" else None,
                "record_id": extra.get("record_id"),
            }
        )

    def fail(self, row: Row, problems: list[tuple[str | None, str]]) -> None:
        self.outcome.failed += 1
        for field_name, message in problems or [(None, "invalid row")]:
            self._result(row, "failed", message, field_name)

    # deciding

    def run(self, parsed: list[Row]) -> Outcome:
        """Decide and write the rows (from `parse_batch`) in the session's transaction."""
        self.outcome.rows = len(parsed)
        resolve_owners(self.session, self.actor, self.plan, parsed)
        _check_references(self.session, self.actor, self.plan.kind, parsed)
        duplicates = self.plan.duplicates
        if self.plan.policy != "create":
            duplicates.load(self.session, self.actor, (k for row in parsed for k in duplicates.keys(row.key)))
        for row in parsed:
            self._decide(row)
        self.flush()
        return self.outcome

    def _decide(self, row: Row) -> None:
        existing = self.plan.duplicates.find(row.key) if self.plan.policy != "create" else None
        if existing is None:
            if row.create is None:
                self.fail(row, row.problems)
                return
            owner = row.owner_id or self._default_owner()
            if isinstance(owner, str):
                self.fail(row, [(mapping.OWNER_FIELD, owner)])
                return
            record_id = self._add(row, owner)
            self.plan.duplicates.remember(row.key, record_id)
            return
        if self.plan.policy == "skip":
            self.outcome.skipped += 1
            label = self.plan.kind.label
            self._result(row, "skipped", f"A {label} with the same {self._key_name(row)} exists", record_id=existing)
            return
        if row.patch is None:
            self.fail(row, row.patch_problems)
            return
        if existing in self.pending_ids:
            self.flush()  # the earlier row's record must exist before this row updates it
        self._update(row, existing)

    def _key_name(self, row: Row) -> str:
        if self.plan.kind.entity_type == "contacts":
            return "email"
        return "domain" if row.key[0] else "name"

    def _update(self, row: Row, record_id: UUID) -> None:
        kind = self.plan.kind
        assert row.patch is not None
        patch = row.patch.model_copy(update={"custom_fields": row.custom or None})
        try:
            with self.session.begin_nested():
                kind.update(self.session, self.actor, record_id, patch)
        except NotFound:
            message = f"A {kind.label} with the same {self._key_name(row)} exists, but you may not update it"
            self.fail(row, [(None, message)])
        except Exception as exc:
            error = item_error(exc)
            if error is None:
                raise
            details = error.get("details")
            if isinstance(details, list) and details:
                self.fail(row, [(d.get("field", "").removeprefix("customFields."), d["message"]) for d in details])
            else:
                self.fail(row, [(None, error["message"])])
        else:
            self.outcome.updated += 1

    # creating

    def now(self) -> datetime:
        """The transaction's timestamp: what `now()` defaults would store."""
        if self._now is None:
            self._now = self.session.scalar(select(func.now()))
        assert self._now is not None
        return self._now

    def _add(self, row: Row, owner_id: UUID) -> UUID:
        """Queue a new record (built ahead by `prepare` when it could be) with its owner and timestamps."""
        pending = row.prepared or prepare(self.plan, row)
        now = self.now()
        pending.record["owner_id"] = owner_id
        shown = pending.event[1]["record"]
        shown["ownerId"], shown["createdAt"], shown["updatedAt"] = owner_id, now, now
        self.pending.append(pending)
        self.pending_ids.add(pending.event[0])
        return pending.event[0]

    def _default_owner(self) -> UUID | str:
        """The importer (records without an owner column or value are theirs), or why they cannot own it."""
        if "" not in self.plan.owners:
            try:
                self.plan.owners[""] = resolve_owner(self.session, self.actor, None)
            except DomainError as exc:
                self.plan.owners[""] = exc.message
        return self.plan.owners[""]

    def _write(self, items: list[Pending]) -> None:
        kind = self.plan.kind
        insert_rows(self.session, kind.table, [p.record for p in items])
        values = [v for p in items for v in p.values]
        if values:
            insert_rows(self.session, CustomFieldValue.__table__, values)  # type: ignore[arg-type]
        events = [p.event for p in items]
        emit_many(self.session, self.actor, kind.created_event, entity_type=kind.entity_type, events=events)

    def flush(self) -> None:
        """Insert the pending new records (one statement per table); when the database refuses the batch,
        insert them one by one so that only the rows it refuses fail."""
        items, self.pending, self.pending_ids = self.pending, [], set()
        if not items:
            return
        try:
            with self.session.begin_nested():
                self._write(items)
        except DBAPIError:
            for item in items:
                try:
                    with self.session.begin_nested():
                        self._write([item])
                except DBAPIError as exc:
                    self.plan.duplicates.forget(item.record["id"])
                    self.fail(item.row, [(None, _refusal(exc))])
                else:
                    self.outcome.created += 1
        else:
            self.outcome.created += len(items)


def read_payload(kind: RecordKind, record: dict[str, Any], custom: dict[str, Any]) -> dict[str, Any]:
    """The record as the API reads it (its Read schema's fields, camelCase), built from values already
    validated and typed: what `*.created` events carry (pydantic's JSON encoding makes it the same JSON)."""
    fields = _READ_FIELDS.get(kind.entity_type)
    if fields is None:
        fields = _READ_FIELDS[kind.entity_type] = [
            (name, info.alias or name) for name, info in kind.read_schema.model_fields.items()
        ]
    values = {**record, "custom_fields": custom}
    return {alias: values[name] for name, alias in fields}


_READ_FIELDS: dict[str, list[tuple[str, str]]] = {}


def _refusal(exc: DBAPIError) -> str:
    diag = getattr(exc.orig, "diag", None)
    detail = getattr(diag, "message_primary", None) or str(exc.orig).splitlines()[0]
    return f"The database refused this row: {detail}"


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows (all with the same keys) with one statement: `INSERT ... SELECT` from
    `jsonb_populate_recordset` over one JSON parameter. One statement whatever the number of rows, so the
    statement-level audit trigger fires once, and no bind parameter per value; the columns' own types and
    constraints apply as for any INSERT."""
    if not rows:
        return
    columns = ", ".join(f'"{name}"' for name in rows[0])
    statement = text(
        f'INSERT INTO "{table.name}" ({columns}) SELECT {columns} '
        f'FROM jsonb_populate_recordset(NULL::"{table.name}", CAST(:rows AS jsonb))'
    )
    session.execute(statement, {"rows": to_json(rows).decode()})
