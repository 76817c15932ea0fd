"""Albedo's read tools over records: find, summarise, stuck deals, lead scores, semantic search.

Every tool reads through the record services the UI and the API use (`list_deals`, `list_contacts`, ...), called
with the asking user's actor: record scope (own/team/all), permissions, tenancy and custom fields are exactly
theirs, and an unknown field is the same clear error the API gives. The tools only translate: friendly names
("stage", "owner", "industry", "status") into the list services' query language (`amount[gte]=50000`,
`stageName=Proposal`, `cf.region=EMEA`), and service results into facts, a table and record references.
No figure is computed here that a service did not return.

Friendly names `find_records` accepts (anything else is the API's field name, snake_case or camelCase, or a custom
field by `cf.<name>`, its name or its label):
- every record type: owner ("me", a user id, or a user's full or unique first/last name; tasks: the assignee).
- deals: stage (a name in any case -> `stageName`, an id -> `stageId`), pipeline, status (open / won / lost ->
  `isClosed`/`isWon`), source, close_date, value, won, closed, rotting, days_in_stage, industry (their account's:
  the matching accounts' ids as `accountId`).
- contacts: status (lead status), stage / lifecycle, score, source, industry (their account's), city, country.
- accounts: industry (any case, matched to the values in use), size, revenue, city, country.
- tasks: due, overdue, assignee; activities: when / date, duration, type (any case).
A plain date on a date-time field means that day in the user's time zone; `between` is both ends included.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ai.albedo.contract import RecordRef, Table, ToolResult
from ai.albedo.tools import ToolContext, tool
from ai.nlp import search as hybrid_search
from core.accounts import service as accounts
from core.activities import service as activities
from core.activities.models import ACTIVITY_TYPES
from core.contacts import service as contacts
from core.contacts.models import LEAD_STATUSES, LIFECYCLE_STAGES, Contact
from core.custom_fields import service as custom_fields
from core.deals import service as deals
from core.errors import NotFound, ValidationFailed
from core.notes import service as notes
from core.pipelines import service as pipelines
from core.records.listing import RecordPage
from core.records.query import MAX_LIMIT, FieldSpec
from core.scoring import service as scoring
from core.sentiment import service as sentiment
from core.tasks import service as tasks
from core.tasks.models import PRIORITIES, STATUSES
from core.users import service as users

Entity = Literal["contacts", "accounts", "deals", "tasks", "activities"]
Op = Literal["eq", "ne", "in", "gt", "gte", "lt", "lte", "between", "contains"]
RecordType = Literal["contact", "account", "deal", "task", "activity", "note", "user"]
_SINGULAR: dict[str, RecordType] = {
    "contacts": "contact",
    "accounts": "account",
    "deals": "deal",
    "tasks": "task",
    "activities": "activity",
    "notes": "note",
}
_NOBODY = "00000000-0000-0000-0000-000000000000"  # an id no record has: "no account matched" as a filter
_PAGE = MAX_LIMIT  # the largest page a list service gives
_MAX_SCAN = 5_000  # rows read to total an amount or collect account ids; beyond it the figure says it is partial


_ENTITY_WORDS = {
    "contact": "contacts",
    "lead": "contacts",
    "leads": "contacts",
    "people": "contacts",
    "person": "contacts",
    "account": "accounts",
    "company": "accounts",
    "companies": "accounts",
    "deal": "deals",
    "opportunity": "deals",
    "opportunities": "deals",
    "task": "tasks",
    "activity": "activities",
}


def _plural(value: Any) -> Any:
    """'deal', 'Companies' -> 'deals', 'accounts': engines and people name record types either way."""
    if isinstance(value, str):
        folded = value.strip().lower()
        return _ENTITY_WORDS.get(folded, folded)
    return value


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Arguments --------------------------------------------------------------------------------------------------


class RecordFilter(_Args):
    field: str = Field(
        description=(
            "The field, as the API names it (amount, stageName, leadStatus, industry, expectedCloseDate, ...), in "
            "snake_case (lead_status) or a custom field (cf.<field_name>, its field name or its label). Friendly "
            "names: stage (name or id), pipeline, owner ('me', a user id or name), status (deals: open, won, lost), "
            "source (lead source), industry (on deals and contacts: their account's industry), score (lead score), "
            "size (company size), close_date (expected close date), due (task due date), when (activity date)."
        )
    )
    op: Op = Field(
        "eq",
        description=(
            "eq (equals; a list means any of), ne, in (value is a list), gt, gte, lt, lte, between (value is "
            "[low, high], both included), contains (text contains, case-insensitive)."
        ),
    )
    value: Any = Field(
        None,
        description=(
            "A string, number, true/false, ISO date (2026-03-31) or date-time, or a list for in/between. A date on a "
            "date-time field means that whole day in the user's time zone. null with eq means 'is empty'."
        ),
    )


class FindRecordsArgs(_Args):
    entity: Entity = Field(
        description="Which records: contacts (people and leads), accounts (companies), deals, "
        "tasks or activities (calls, meetings, emails, notes logged)."
    )
    filters: list[RecordFilter] = Field(default_factory=list, description="Conditions that must all hold.")
    owner: str | None = Field(
        None, description="'me' for the user's own records (tasks: assigned to them), or a user id or name."
    )
    text: str | None = Field(None, max_length=200, description="Free-text search over names, emails and titles.")
    sort: str | None = Field(
        None, description="Order, e.g. '-amount' (largest first), 'expectedCloseDate', '-leadScore,lastName'."
    )
    limit: int = Field(10, ge=1, le=50, description="How many rows to show (the total counts every match).")
    ids: list[UUID] | None = Field(
        None,
        max_length=200,
        description="Only among these records (follow-ups: the ids of a previous result, 'which of those ...').",
    )

    _entity = field_validator("entity", mode="before")(_plural)


class RecordSummaryArgs(_Args):
    entity: Literal["contact", "account", "deal"] = Field(description="The kind of record.")
    id: UUID = Field(description="The record's id.")

    @field_validator("entity", mode="before")
    @classmethod
    def _singular(cls, value: Any) -> Any:
        plural = _plural(value)
        return plural.removesuffix("s") if plural in ("contacts", "accounts", "deals") else value


class StuckDealsArgs(_Args):
    stage: str | None = Field(None, description="Only deals in this stage (its name or id); all open stages if empty.")
    min_days: int | None = Field(
        None,
        ge=0,
        le=3650,
        description="At least this many days in their current stage; default: past each stage's rotting setting.",
    )
    rotting_only: bool = Field(False, description="Only deals past their stage's rotting setting.")
    owner: str | None = Field(None, description="'me', or a user id or name.")
    limit: int = Field(10, ge=1, le=50, description="How many rows to show (the count covers all).")


class LeadScoresArgs(_Args):
    contact_id: UUID | None = Field(None, description="One lead's score and its reasons; empty: the top open leads.")
    mine: bool = Field(False, description="Only the user's own leads (top leads only).")
    limit: int = Field(10, ge=1, le=50, description="How many top leads.")


class SemanticSearchArgs(_Args):
    query: str = Field(
        min_length=1,
        max_length=200,
        description="What to look for, in words ('notes about pricing complaints', 'companies like Acme').",
    )
    types: list[Literal["contacts", "accounts", "deals", "notes", "activities"]] | None = Field(
        None, description="Which record types to search (all readable ones if empty; text mode has no activities)."
    )
    mode: Literal["hybrid", "text", "semantic"] = Field(
        "hybrid", description="hybrid (words and meaning), text (words only) or semantic (meaning only)."
    )
    limit: int = Field(10, ge=1, le=50, description="How many hits.")


# Shared helpers ---------------------------------------------------------------------------------------------


def _words(name: str) -> str:
    """`expectedCloseDate` -> `Expected close date` (a column's label)."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name.replace("_", " ")).strip()
    return spaced[:1].upper() + spaced[1:].lower()


def _key(name: str) -> str:
    """A field name as the alias table knows it: lower case, words joined by underscores."""
    return re.sub(r"[\s\-]+", "_", re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())).lower()


def _camel(name: str) -> str:
    head, *rest = _key(name).split("_")
    return head + "".join(part.title() for part in rest)


def _people(ctx: ToolContext) -> dict[str, str]:
    """User id -> name (owners and assignees), read once per request with the user's own permission."""
    if "records:people" not in ctx.memo:
        found: dict[str, str] = {}
        if ctx.actor.can("users", "read"):
            rows, _ = users.list_users(ctx.session, ctx.actor, limit=1000)
            found = {str(u.id): f"{u.first_name} {u.last_name}".strip() for u in rows}
        elif ctx.actor.user_id is not None:
            me = users.me(ctx.session, ctx.actor)
            found = {str(me.id): f"{me.first_name} {me.last_name}".strip()}
        ctx.memo["records:people"] = found
    people: dict[str, str] = ctx.memo["records:people"]
    return people


def _person(ctx: ToolContext, user_id: Any) -> str | None:
    if user_id is None:
        return None
    return _people(ctx).get(str(user_id), str(user_id))


def _owner_id(ctx: ToolContext, owner: Any) -> str:
    """'me', a user id or a user's name -> a user id; an unknown name is a clear error."""
    text = str(owner).strip()
    if text.lower() in ("me", "mine", "my", "myself", "i"):
        if ctx.actor.user_id is None:
            raise ValidationFailed("'me' needs a signed-in user", details=[{"field": "owner", "message": "no user"}])
        return str(ctx.actor.user_id)
    try:
        return str(UUID(text))
    except ValueError:
        pass
    wanted = text.lower()
    matches = [uid for uid, name in _people(ctx).items() if name.lower() == wanted]
    if not matches:
        matches = [uid for uid, name in _people(ctx).items() if wanted in name.lower().split() + [name.lower()]]
    if len(matches) != 1:
        problem = "no user by that name" if not matches else "several users have that name"
        raise ValidationFailed(f"Unknown owner {text!r}: {problem}", details=[{"field": "owner", "message": problem}])
    return matches[0]


def _local(ctx: ToolContext, value: Any) -> Any:
    """A JSON date-time as the user's local 'YYYY-MM-DD HH:MM' (tables are read by people)."""
    if isinstance(value, str) and len(value) > 10 and value[10] == "T":
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        if moment.tzinfo is not None:
            moment = moment.astimezone(ZoneInfo(ctx.tz))
        return moment.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, datetime):
        return _local(ctx, value.isoformat())
    if isinstance(value, date):
        return value.isoformat()
    return value


def _number(value: Any) -> Any:
    """Decimals travel as strings in JSON; tables and facts want numbers."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str):
        try:
            return float(Decimal(value))
        except ArithmeticError:
            return value
    return value


def _all_pages(
    list_page: Callable[[dict[str, list[str]]], RecordPage], params: dict[str, list[str]]
) -> tuple[list[dict[str, Any]], bool]:
    """Every item of a list (up to `_MAX_SCAN`), and whether it was cut there."""
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        found = list_page({**params, "limit": [str(_PAGE)], "page": [str(page)]})
        items.extend(found.items)
        if len(found.items) < _PAGE or (found.total is not None and len(items) >= found.total):
            return items, False
        if len(items) >= _MAX_SCAN:
            return items, True
        page += 1


def _money(amount: Any, currency: str | None) -> str:
    """120000, 'USD' -> '$120,000' (as replies write money)."""
    if amount is None:
        return "no amount"
    text = f"{float(amount):,.2f}".removesuffix(".00")
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency or "")
    return f"{symbol}{text}" if symbol else f"{text} {currency or ''}".strip()


def _amounts_by_currency(items: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    totals: dict[str, Decimal] = {}
    for item in items:
        if item.get("amount") is not None:
            currency = item.get("currency") or "USD"
            totals[currency] = totals.get(currency, Decimal(0)) + Decimal(str(item["amount"]))
    return {currency: float(total) for currency, total in sorted(totals.items())}


def _amount_facts(prefix: str, by_currency: dict[str, float]) -> dict[str, Any]:
    """`<prefix>_amount` (+ `currency`) when one currency, and always the amounts per currency."""
    facts: dict[str, Any] = {f"{prefix}_amount_by_currency": by_currency}
    if len(by_currency) <= 1:
        currency, total = next(iter(by_currency.items()), (None, 0.0))
        facts[f"{prefix}_amount"] = total
        facts[f"{prefix}_currency"] = currency
    return facts


# find_records: the entity catalogue -------------------------------------------------------------------------


def _specs(ctx: ToolContext, entity: str) -> dict[str, FieldSpec]:
    """The fields the entity's list service filters and sorts by (with `cf.<name>` custom fields)."""
    key = f"records:specs:{entity}"
    if key not in ctx.memo:
        session, actor = ctx.session, ctx.actor
        if entity == "deals":
            specs = deals.field_specs(session, actor)
        elif entity == "contacts":
            specs = {**contacts.SPECS, **custom_fields.field_specs(session, actor, "contacts", Contact.id)}
        elif entity == "accounts":
            from core.accounts.models import Account

            specs = {**accounts.SPECS, **custom_fields.field_specs(session, actor, "accounts", Account.id)}
        elif entity == "tasks":
            specs = dict(tasks.SPECS)
        else:
            specs = dict(activities.SPECS)
        ctx.memo[key] = specs
    found: dict[str, FieldSpec] = ctx.memo[key]
    return found


def _custom_labels(ctx: ToolContext, entity: str) -> dict[str, str]:
    """`cf.<name>` -> its label, for the record types that have custom fields."""
    if entity not in ("contacts", "accounts", "deals"):
        return {}
    key = f"records:cf-labels:{entity}"
    if key not in ctx.memo:
        ctx.memo[key] = {
            f"cf.{f.field_name}": f.field_label for f in custom_fields.definitions(ctx.session, ctx.actor, entity)
        }
    labels: dict[str, str] = ctx.memo[key]
    return labels


def _custom_options(ctx: ToolContext, entity: str, name: str) -> list[str]:
    if entity not in ("contacts", "accounts", "deals"):
        return []
    for definition in custom_fields.definitions(ctx.session, ctx.actor, entity):
        if f"cf.{definition.field_name}" == name:
            return list(definition.field_options or [])
    return []


_OWNER_FIELD = {"tasks": "assigneeId"}
_ALIASES: dict[str, dict[str, str]] = {
    "*": {
        "owner": "ownerId",
        "owner_id": "ownerId",
        "created": "createdAt",
        "created_at": "createdAt",
        "updated": "updatedAt",
        "tag": "tags",
    },
    "deals": {
        "stage": "stageName",
        "stage_name": "stageName",
        "pipeline": "pipelineName",
        "source": "leadSource",
        "close_date": "expectedCloseDate",
        "expected_close": "expectedCloseDate",
        "closing": "expectedCloseDate",
        "closed_date": "actualCloseDate",
        "value": "amount",
        "size": "amount",
        "weighted": "weightedAmount",
        "won": "isWon",
        "closed": "isClosed",
        "rotting": "isRotting",
        "days_in_stage": "daysInStage",
        "account": "accountId",
        "contact": "contactId",
    },
    "contacts": {
        "status": "leadStatus",
        "stage": "lifecycleStage",
        "lifecycle": "lifecycleStage",
        "score": "leadScore",
        "source": "leadSource",
        "account": "accountId",
        "name": "lastName",
        "last_contacted": "lastContactedAt",
        "city": "addressCity",
        "country": "addressCountry",
        "state": "addressState",
        "active": "isActive",
    },
    "accounts": {
        "size": "companySize",
        "revenue": "annualRevenue",
        "city": "addressCity",
        "country": "addressCountry",
        "state": "addressState",
        "parent": "parentId",
        "active": "isActive",
    },
    "tasks": {
        "due": "dueAt",
        "due_date": "dueAt",
        "assignee": "assigneeId",
        "overdue": "isOverdue",
        "deal": "dealId",
        "contact": "contactId",
        "account": "accountId",
        "completed": "completedAt",
        "name": "title",
    },
    "activities": {
        "when": "occurredAt",
        "date": "occurredAt",
        "occurred": "occurredAt",
        "duration": "durationSeconds",
        "deal": "dealId",
        "contact": "contactId",
        "account": "accountId",
        "kind": "type",
    },
}
# Values a field takes from a fixed list: matched case-insensitively ("In progress" -> in_progress).
_FIXED_VALUES: dict[tuple[str, str], Sequence[str]] = {
    ("contacts", "leadStatus"): LEAD_STATUSES,
    ("contacts", "lifecycleStage"): LIFECYCLE_STAGES,
    ("tasks", "status"): STATUSES,
    ("tasks", "priority"): PRIORITIES,
    ("activities", "type"): ACTIVITY_TYPES,
}


def _field_name(ctx: ToolContext, entity: str, name: str) -> str:
    """The list service's name for a field the user or an engine named; unknown names are one clear error."""
    specs = _specs(ctx, entity)
    if name in specs:
        return name
    key = _key(name.removeprefix("cf."))
    if key in ("owner", "owner_id", "assignee") and entity in _OWNER_FIELD:
        return _OWNER_FIELD[entity]
    alias = _ALIASES.get(entity, {}).get(key) or _ALIASES["*"].get(key)
    for candidate in (alias, _camel(name), f"cf.{key}", f"cf.{name}"):
        if candidate and candidate in specs and specs[candidate].filterable:
            return candidate
    for cf_name, label in _custom_labels(ctx, entity).items():
        if _key(label) == key:
            return cf_name
    known = sorted(n for n, s in specs.items() if s.filterable)
    raise ValidationFailed(
        f"Unknown field {name!r} for {entity}: use one of {', '.join(known)}",
        details=[{"field": name, "message": f"unknown field for {entity}"}],
    )


def _stages(ctx: ToolContext) -> list[tuple[str, str, str, int | None]]:
    """(stage id, stage name, pipeline name, rotting days) of every live stage, read once per request."""
    if "records:stages" not in ctx.memo:
        found = pipelines.list_pipelines(ctx.session, ctx.actor)
        names = {p.id: p.name for p in found}
        by_pipeline = pipelines.stages_by_pipeline(ctx.session, ctx.actor, names)
        ctx.memo["records:stages"] = [
            (str(s.id), s.name, names[pid], s.rotting_days) for pid in names for s in by_pipeline.get(pid, [])
        ]
    stages: list[tuple[str, str, str, int | None]] = ctx.memo["records:stages"]
    return stages


# Words people use for a fixed value ("completed tasks" are `done`).
_SYNONYMS: dict[str, str] = {
    "completed": "done",
    "complete": "done",
    "finished": "done",
    "closed": "done",
    "to_do": "open",
    "todo": "open",
    "pending": "open",
    "not_started": "open",
    "started": "in_progress",
    "ongoing": "in_progress",
    "canceled": "cancelled",
    "calls": "call",
    "meetings": "meeting",
    "emails": "email",
    "notes": "note",
}


def _canonical(value: str, known: Iterable[str]) -> str:
    """The value as the CRM spells it, when it names one known value ignoring case, spaces and underscores (or
    is a common word for one)."""
    known = list(known)
    folded = _key(value)
    for word in (folded, _SYNONYMS.get(folded)):
        for candidate in known:
            if word is not None and _key(candidate) == word:
                return candidate
    return value


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _values(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple, set)):
        return list(value)
    if isinstance(value, str) and "," in value:
        return [v for v in (part.strip() for part in value.split(",")) if v]
    return [value]


class _Params:
    """The list query being built: name -> values, as a query string would carry them."""

    def __init__(self) -> None:
        self.params: dict[str, list[str]] = {}
        self.used: list[str] = []  # fields filtered on, for the table's columns

    def add(self, name: str, op: str, values: Sequence[str], *, show: bool = True) -> None:
        """One condition; `show`: the field becomes a column of the result (a status split into flags does not)."""
        key = name if op == "eq" else f"{name}[{op}]"
        self.params.setdefault(key, []).append(",".join(values))
        if show and name not in self.used:
            self.used.append(name)


def _day_bounds(ctx: ToolContext, day: date) -> tuple[str, str]:
    """A day in the user's time zone as [start, next day's start) in ISO date-times."""
    zone = ZoneInfo(ctx.tz)
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start.isoformat(), (start + timedelta(days=1)).isoformat()


def _as_day(value: Any) -> date | None:
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:  # 2026-13-45: the list service names the field and the bad value
            return None
    return None


def _add_filter(ctx: ToolContext, entity: str, query: _Params, flt: RecordFilter) -> None:
    """One condition in the list service's language, with friendly names and values translated."""
    key = _key(flt.field)
    op, value = flt.op, flt.value
    if entity == "deals" and key == "status":
        _deal_status(query, op, value)
        return
    if entity in ("deals", "contacts") and key == "industry":
        _by_account_industry(ctx, entity, query, op, value)
        return
    name = _field_name(ctx, entity, flt.field)
    spec = _specs(ctx, entity)[name]
    if value is None and op in ("eq", "ne"):
        query.add(name, "isnull", ["true" if op == "eq" else "false"])
        return
    values = _values(value) if op in ("eq", "ne", "in", "between", "contains") or isinstance(value, list) else [value]
    if not values:
        raise ValidationFailed(
            f"The filter on {flt.field} needs a value", details=[{"field": flt.field, "message": "no value given"}]
        )
    if name in ("ownerId", "assigneeId"):
        values = [_owner_id(ctx, v) for v in values]
    elif entity == "deals" and name in ("stageName", "pipelineName"):
        name, values = _stage_values(ctx, name, values)
    elif (entity, name) in _FIXED_VALUES and op in ("eq", "ne", "in"):
        values = [_canonical(str(v), _FIXED_VALUES[(entity, name)]) for v in values]
    elif entity == "accounts" and name == "industry" and op in ("eq", "ne", "in"):
        values = [_canonical(str(v), accounts.industries_in_use(ctx.session, ctx.actor)) for v in values]
    elif name.startswith("cf.") and op in ("eq", "ne", "in"):
        values = [_canonical(str(v), _custom_options(ctx, entity, name)) for v in values]
    if op == "between":
        if len(values) != 2:
            raise ValidationFailed(
                f"between on {flt.field} needs two values, [low, high]",
                details=[{"field": flt.field, "message": "between takes [low, high]"}],
            )
        _range(ctx, query, name, spec, "gte", values[0])
        _range(ctx, query, name, spec, "lte", values[1])
        return
    if op in ("gt", "gte", "lt", "lte"):
        _range(ctx, query, name, spec, op, values[0])
        return
    if spec.type == "datetime" and op == "eq" and len(values) == 1 and _as_day(values[0]) is not None:
        start, end = _day_bounds(ctx, _as_day(values[0]))  # type: ignore[arg-type]
        query.add(name, "gte", [start])
        query.add(name, "lt", [end])
        return
    query.add(name, "eq" if op == "in" else op, [_as_text(v) for v in values])


def _range(ctx: ToolContext, query: _Params, name: str, spec: FieldSpec, op: str, value: Any) -> None:
    """A comparison; a plain date on a date-time field covers whole days in the user's time zone."""
    day = _as_day(value)
    if spec.type == "datetime" and day is not None:
        start, end = _day_bounds(ctx, day)
        bound = {"gt": ("gte", end), "gte": ("gte", start), "lt": ("lt", start), "lte": ("lt", end)}[op]
        query.add(name, bound[0], [bound[1]])
        return
    query.add(name, op, [_as_text(value)])


def _deal_status(query: _Params, op: str, value: Any) -> None:
    """status open/won/lost -> isClosed/isWon (the deal has no status column)."""
    wanted = {_key(str(v)) for v in _values(value)}
    if op == "ne":
        wanted = {"open", "won", "lost"} - wanted
    if not wanted or not wanted <= {"open", "won", "lost"}:
        raise ValidationFailed(
            f"Unknown deal status {value!r}: use open, won or lost",
            details=[{"field": "status", "message": "one of open, won, lost"}],
        )
    if wanted == {"open"}:
        query.add("isClosed", "eq", ["false"], show=False)
    elif wanted == {"won"}:
        query.add("isWon", "eq", ["true"], show=False)
    elif wanted == {"lost"}:
        query.add("isClosed", "eq", ["true"], show=False)
        query.add("isWon", "eq", ["false"], show=False)
    elif wanted == {"won", "lost"}:
        query.add("isClosed", "eq", ["true"], show=False)
    elif wanted == {"open", "won"}:
        query.add("isWon", "ne", ["false"], show=False)
    elif wanted == {"open", "lost"}:
        query.add("isWon", "ne", ["true"], show=False)


def _stage_values(ctx: ToolContext, name: str, values: list[Any]) -> tuple[str, list[Any]]:
    """Stage or pipeline names (any case) as the CRM spells them; ids as ids."""
    try:
        return ("stageId" if name == "stageName" else "pipelineId"), [str(UUID(str(v))) for v in values]
    except ValueError:
        pass
    known = [s[1] if name == "stageName" else s[2] for s in _stages(ctx)]
    resolved = []
    for v in values:
        found = _canonical(str(v), known)
        if found not in known:
            what = "stage" if name == "stageName" else "pipeline"
            raise ValidationFailed(
                f"Unknown {what} {v!r}: use one of {', '.join(dict.fromkeys(known))}",
                details=[{"field": name, "message": f"no such {what}"}],
            )
        resolved.append(found)
    return name, resolved


def _by_account_industry(ctx: ToolContext, entity: str, query: _Params, op: str, value: Any) -> None:
    """Deals and contacts in accounts of an industry: the accounts (the user's readable ones) by the accounts
    service, then their ids as a filter."""
    sub = _Params()
    _add_filter(ctx, "accounts", sub, RecordFilter(field="industry", op=op, value=value))
    found, _ = _all_pages(lambda p: accounts.list_accounts(ctx.session, ctx.actor, p), {**sub.params, "fields": ["id"]})
    ids = [item["id"] for item in found] or [_NOBODY]
    query.add("accountId", "eq", ids)


# find_records: the table ------------------------------------------------------------------------------------

# (key in the item, column label) shown for each record type; fields filtered or sorted on are added.
_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "deals": [
        ("name", "Deal"),
        ("amount", "Amount"),
        ("currency", "Currency"),
        ("stageName", "Stage"),
        ("owner", "Owner"),
        ("expectedCloseDate", "Close date"),
        ("daysInStage", "Days in stage"),
    ],
    "contacts": [
        ("name", "Name"),
        ("title", "Title"),
        ("company", "Company"),
        ("leadStatus", "Lead status"),
        ("lifecycleStage", "Lifecycle stage"),
        ("leadScore", "Lead score"),
        ("owner", "Owner"),
    ],
    "accounts": [
        ("name", "Account"),
        ("industry", "Industry"),
        ("companySize", "Size"),
        ("annualRevenue", "Annual revenue"),
        ("owner", "Owner"),
    ],
    "tasks": [
        ("title", "Task"),
        ("dueAt", "Due"),
        ("status", "Status"),
        ("priority", "Priority"),
        ("assignee", "Assignee"),
        ("isOverdue", "Overdue"),
    ],
    "activities": [
        ("occurredAt", "When"),
        ("type", "Type"),
        ("subject", "Subject"),
        ("outcome", "Outcome"),
        ("owner", "Owner"),
    ],
}
_SHOWN_AS = {
    "ownerId": "owner",
    "assigneeId": "assignee",
    "lastName": "name",
    "firstName": "name",
    "overdue": "isOverdue",
}
_NUMERIC_TYPES = ("decimal", "int")


def _label(entity: str, item: Mapping[str, Any]) -> str:
    if entity == "contacts":
        return f"{item.get('firstName') or ''} {item.get('lastName') or ''}".strip()
    if entity == "tasks":
        return str(item.get("title") or "")
    if entity == "activities":
        return str(item.get("subject") or f"{item.get('type')} on {str(item.get('occurredAt'))[:10]}")
    return str(item.get("name") or "")


def _cell(ctx: ToolContext, entity: str, item: Mapping[str, Any], key: str, specs: Mapping[str, FieldSpec]) -> Any:
    if key == "name" and entity == "contacts":
        return _label(entity, item)
    if key == "owner":
        return _person(ctx, item.get("ownerId"))
    if key == "assignee":
        return _person(ctx, item.get("assigneeId"))
    value = item.get("customFields", {}).get(key[3:]) if key.startswith("cf.") else item.get(key)
    spec = specs.get(key)
    if spec is not None and spec.type in _NUMERIC_TYPES and value is not None:
        return _number(value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return _local(ctx, value)


def _table(ctx: ToolContext, entity: str, items: list[dict[str, Any]], extra: list[str], total: int | None) -> Table:
    specs = _specs(ctx, entity)
    labels = _custom_labels(ctx, entity)
    columns = list(_COLUMNS[entity])
    for name in extra:
        shown = _SHOWN_AS.get(name, name)
        if shown in {k for k, _ in columns} or name in ("id",) or name.endswith("Id"):
            continue
        columns.append((shown, labels.get(name) or _words(name)))
    kind = _SINGULAR[entity]
    return Table(
        columns=[label for _, label in columns],
        keys=[key for key, _ in columns],
        rows=[[_cell(ctx, entity, item, key, specs) for key, _ in columns] for item in items],
        total=total,
        records=[RecordRef(type=kind, id=str(item["id"]), label=_label(entity, item)) for item in items],
    )


def _sort(ctx: ToolContext, entity: str, sort: str) -> tuple[str, list[str]]:
    """'-amount, close date' -> ('-amount,expectedCloseDate', the fields)."""
    parts, fields = [], []
    for item in (p.strip() for p in sort.split(",")):
        if not item:
            continue
        descending = item.startswith("-")
        name = _field_name(ctx, entity, item.lstrip("-+").strip())
        if name in ("stageId",):
            name = "stageName"
        parts.append(("-" if descending else "") + name)
        fields.append(name)
    return ",".join(parts), fields


_LISTS: dict[str, Callable[[ToolContext, dict[str, list[str]]], RecordPage]] = {
    "deals": lambda ctx, p: deals.list_deals(ctx.session, ctx.actor, p),
    "contacts": lambda ctx, p: contacts.list_contacts(ctx.session, ctx.actor, p),
    "accounts": lambda ctx, p: accounts.list_accounts(ctx.session, ctx.actor, p),
    "tasks": lambda ctx, p: tasks.list_tasks(ctx.session, ctx.actor, p),
    "activities": lambda ctx, p: activities.list_activities(ctx.session, ctx.actor, p),
}


def query_params(ctx: ToolContext, args: FindRecordsArgs) -> tuple[dict[str, list[str]], list[str]]:
    """The list service's parameters for a find (also what a page's "open in list" link would carry), and the
    fields it filters or sorts on."""
    query = _Params()
    for flt in args.filters:
        _add_filter(ctx, args.entity, query, flt)
    if args.owner:
        owner_field = _OWNER_FIELD.get(args.entity, "ownerId")
        query.add(owner_field, "eq", [_owner_id(ctx, args.owner)])
    if args.ids is not None:
        query.add("id", "eq", [str(i) for i in args.ids] or [_NOBODY])
    if args.text and args.text.strip():
        query.params["search"] = [args.text.strip()]
    used = list(query.used)
    if args.sort:
        sort, sorted_by = _sort(ctx, args.entity, args.sort)
        query.params["sort"] = [sort]
        used += [f for f in sorted_by if f not in used]
    query.params["limit"] = [str(args.limit)]
    return query.params, used


@tool(
    "find_records",
    "Find contacts, accounts, deals, tasks or activities the user can see, with filters on any field (custom "
    "fields too), the owner ('my deals'), free text, sort and a limit. Returns the matching rows and the total "
    "count of all matches. For follow-ups on a previous result pass its record ids in `ids`.",
    FindRecordsArgs,
)
def find_records(ctx: ToolContext, args: FindRecordsArgs) -> ToolResult:
    params, used = query_params(ctx, args)
    page = _LISTS[args.entity](ctx, params)
    total = page.total if page.total is not None else len(page.items)
    table = _table(ctx, args.entity, page.items, used, total)
    facts: dict[str, Any] = {"count": total, "entity": args.entity, "shown": len(page.items)}
    if args.owner:
        facts["owner"] = _person(ctx, _owner_id(ctx, args.owner))
    return ToolResult(facts=facts, table=table, records=table.records)


# record_summary -------------------------------------------------------------------------------------------


def _first_line(text: str | None, limit: int = 80) -> str:
    line = next((part.strip() for part in (text or "").splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _timeline(
    ctx: ToolContext, parent: tuple[str, UUID]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, int]]:
    """The record's last 5 activities and notes (newest first, sentiment where stored), its first 10 open tasks
    (soonest due first) and how many open and overdue tasks it has in all."""
    session, actor = ctx.session, ctx.actor
    entries: list[dict[str, Any]] = []
    if actor.can("activities", "read"):
        found = activities.list_activities(session, actor, {"limit": ["5"]}, parent=parent)
        for item in found.items:
            entries.append(
                {
                    "kind": "activities",
                    "id": item["id"],
                    "at": item["occurredAt"],
                    "type": item["type"],
                    "subject": item.get("subject") or _first_line(item.get("body")),
                }
            )
    if actor.can("notes", "read"):
        # pinned notes come first whatever their age: enough rows to find the newest among the rest
        found = notes.list_notes(session, actor, parent[0], parent[1], {"limit": ["20"], "sort": ["-createdAt"]})
        for item in found.items:
            entries.append(
                {
                    "kind": "notes",
                    "id": item["id"],
                    "at": item["createdAt"],
                    "type": "note",
                    "subject": _first_line(item.get("body")),
                }
            )
    entries.sort(key=lambda e: datetime.fromisoformat(e["at"].replace("Z", "+00:00")), reverse=True)
    entries = entries[:5]
    if actor.can(sentiment.RESOURCE, "read"):
        for kind in ("activities", "notes"):
            ids = [UUID(e["id"]) for e in entries if e["kind"] == kind]
            labels = {str(s.entity_id): s.label for s in sentiment.list_for(session, actor, kind, ids)}
            for entry in entries:
                if entry["kind"] == kind:
                    entry["sentiment"] = labels.get(entry["id"])
    open_tasks: list[dict[str, Any]] = []
    counts = {"open": 0, "overdue": 0}
    if actor.can("tasks", "read"):
        found = tasks.list_tasks(
            session, actor, {"status": ["open,in_progress"], "sort": ["dueAt"], "limit": ["10"]}, parent=parent
        )
        open_tasks = [
            {"id": t["id"], "title": t["title"], "due": t.get("dueAt"), "overdue": bool(t.get("isOverdue"))}
            for t in found.items
        ]
        overdue = tasks.list_tasks(session, actor, {"isOverdue": ["true"], "limit": ["1"]}, parent=parent)
        counts = {"open": found.total or 0, "overdue": overdue.total or 0}
    return entries, open_tasks, counts


def _timeline_table(ctx: ToolContext, entries: list[dict[str, Any]], open_tasks: list[dict[str, Any]]) -> Table:
    rows: list[list[Any]] = []
    records: list[RecordRef] = []
    for e in entries:
        rows.append([_local(ctx, e["at"]), e["type"], e["subject"], e.get("sentiment")])
        records.append(RecordRef(type=_SINGULAR[e["kind"]], id=e["id"], label=e["subject"] or e["type"]))
    for t in open_tasks:
        rows.append([_local(ctx, t["due"]), "task", t["title"], "overdue" if t["overdue"] else "open"])
        records.append(RecordRef(type="task", id=t["id"], label=t["title"]))
    return Table(
        columns=["When", "Type", "Subject", "Sentiment / status"],
        keys=["when", "type", "subject", "status"],
        rows=rows,
        records=records,
    )


def _timeline_facts(
    ctx: ToolContext, entries: list[dict[str, Any]], open_tasks: list[dict[str, Any]], counts: dict[str, int]
) -> dict[str, Any]:
    return {
        "recent": [
            {"type": e["type"], "date": _local(ctx, e["at"]), "subject": e["subject"], "sentiment": e.get("sentiment")}
            for e in entries
        ],
        "open_tasks": [
            {"title": t["title"], "due": _local(ctx, t["due"]), "overdue": t["overdue"]} for t in open_tasks
        ],
        "open_task_count": counts["open"],
        "overdue_task_count": counts["overdue"],
    }


def _account_name(ctx: ToolContext, account_id: Any) -> str | None:
    if account_id is None or not ctx.actor.can("accounts", "read"):
        return None
    try:
        return accounts.get(ctx.session, ctx.actor, UUID(str(account_id))).name
    except NotFound:
        return None


def _contact_name(ctx: ToolContext, contact_id: Any) -> str | None:
    if contact_id is None or not ctx.actor.can("contacts", "read"):
        return None
    try:
        found = contacts.get(ctx.session, ctx.actor, UUID(str(contact_id)))
    except NotFound:
        return None
    return f"{found.first_name} {found.last_name}".strip()


def _deal_summary(ctx: ToolContext, deal_id: UUID) -> tuple[dict[str, Any], RecordRef]:
    read = deals.to_read(ctx.session, ctx.actor, deals.get(ctx.session, ctx.actor, deal_id))
    status = "open" if not read.is_closed else ("won" if read.is_won else "lost")
    facts = {
        "name": read.name,
        "amount": None if read.amount is None else float(read.amount),
        "currency": read.currency,
        "stage": read.stage_name,
        "pipeline": read.pipeline_name,
        "status": status,
        "owner": _person(ctx, read.owner_id),
        "close_date": (read.actual_close_date or read.expected_close_date),
        "expected_close_date": read.expected_close_date,
        "probability": read.probability,
        "weighted_amount": None if read.weighted_amount is None else float(read.weighted_amount),
        "days_in_stage": read.days_in_stage,
        "rotting": read.is_rotting,
        "lost_reason": read.lost_reason,
        "next_step": read.next_step,
        "account": _account_name(ctx, read.account_id),
        "contact": _contact_name(ctx, read.contact_id),
        "custom_fields": read.custom_fields,
    }
    return facts, RecordRef(type="deal", id=str(read.id), label=read.name)


def _contact_summary(ctx: ToolContext, contact_id: UUID) -> tuple[dict[str, Any], RecordRef]:
    read = contacts.to_read(ctx.session, ctx.actor, contacts.get(ctx.session, ctx.actor, contact_id))
    name = f"{read.first_name} {read.last_name}".strip()
    facts: dict[str, Any] = {
        "name": name,
        "title": read.title,
        "email": read.email,
        "account": _account_name(ctx, read.account_id) or read.company,
        "lifecycle_stage": read.lifecycle_stage,
        "lead_status": read.lead_status,
        "lead_score": read.lead_score,
        "lead_source": read.lead_source,
        "owner": _person(ctx, read.owner_id),
        "last_contacted": _local(ctx, read.last_contacted_at),
        "custom_fields": read.custom_fields,
    }
    if ctx.actor.can(scoring.SCORES, "read"):
        factors = scoring.latest_factors(ctx.session, ctx.actor, [read.id]).get(read.id, [])
        facts["score_reasons"] = [f["text"] for f in factors[:3]]
    return facts, RecordRef(type="contact", id=str(read.id), label=name)


def _account_summary(ctx: ToolContext, account_id: UUID) -> tuple[dict[str, Any], RecordRef]:
    read = accounts.to_read(ctx.session, ctx.actor, accounts.get(ctx.session, ctx.actor, account_id))
    facts: dict[str, Any] = {
        "name": read.name,
        "industry": read.industry,
        "size": read.company_size,
        "annual_revenue": None if read.annual_revenue is None else float(read.annual_revenue),
        "website": read.website,
        "owner": _person(ctx, read.owner_id),
        "custom_fields": read.custom_fields,
    }
    if ctx.actor.can("deals", "read"):
        base = {"accountId": [str(read.id)], "fields": ["id,amount,currency"]}

        def listed(p: dict[str, list[str]]) -> RecordPage:
            return deals.list_deals(ctx.session, ctx.actor, p)

        open_deals, cut_open = _all_pages(listed, {**base, "isClosed": ["false"]})
        won_deals, cut_won = _all_pages(listed, {**base, "isWon": ["true"]})
        facts["open_deals"] = len(open_deals)
        facts["won_deals"] = len(won_deals)
        facts.update(_amount_facts("open", _amounts_by_currency(open_deals)))
        facts.update(_amount_facts("won", _amounts_by_currency(won_deals)))
        if cut_open or cut_won:
            facts["partial"] = f"only the first {_MAX_SCAN} deals were added up"
    if ctx.actor.can("contacts", "read"):
        facts["contacts"] = contacts.list_contacts(
            ctx.session, ctx.actor, {"limit": ["1"], "fields": ["id"]}, account_id=read.id
        ).total
    return facts, RecordRef(type="account", id=str(read.id), label=read.name)


def _summary_text(kind: str, f: dict[str, Any]) -> str:
    """The facts as a few sentences (every figure one of the facts), for a reply that has no template of its own."""
    if kind == "deal":
        parts = [f"{f['name']}: {_money(f['amount'], f['currency'])}, {f['status']}, in {f['stage']} ({f['pipeline']})"]
        if f["status"] == "open":
            parts[0] += f" for {f['days_in_stage']} days" + (", rotting" if f["rotting"] else "")
            parts.append(f"{f['probability']}% probability, expected to close {f['expected_close_date'] or 'some day'}")
        elif f["status"] == "lost" and f["lost_reason"]:
            parts.append(f"lost: {f['lost_reason']}")
        parts.append(f"owner {f['owner']}" + (f", account {f['account']}" if f["account"] else ""))
    elif kind == "contact":
        where = f", {f['title']}" if f["title"] else ""
        where += f" at {f['account']}" if f["account"] else ""
        parts = [f"{f['name']}{where}"]
        parts.append(
            f"lead status {f['lead_status'] or 'none'}, lifecycle stage {f['lifecycle_stage'] or 'none'}, "
            f"lead score {f['lead_score']}" + (f" ({'; '.join(f['score_reasons'])})" if f.get("score_reasons") else "")
        )
        parts.append(f"owner {f['owner']}, last contacted {f['last_contacted'] or 'never'}")
    else:
        what = ", ".join(v for v in (f["industry"], f["size"]) if v)
        parts = [f"{f['name']}" + (f" ({what})" if what else "") + f", owner {f['owner']}"]
        if "open_deals" in f:
            open_amount = _money(f["open_amount"], f["open_currency"]) if "open_amount" in f else "several currencies"
            won_amount = _money(f["won_amount"], f["won_currency"]) if "won_amount" in f else "several currencies"
            parts.append(f"{f['open_deals']} open deals worth {open_amount}; {f['won_deals']} won worth {won_amount}")
    if f["recent"]:
        last = f["recent"][0]
        parts.append(f"last {last['type']} {last['date']}: {last['subject']}")
    if f["open_task_count"]:
        parts.append(f"{f['open_task_count']} open tasks, {f['overdue_task_count']} overdue")
    return ". ".join(parts) + "."


_SUMMARIES = {"deal": _deal_summary, "contact": _contact_summary, "account": _account_summary}


@tool(
    "record_summary",
    "Summarise one deal, contact or account the user can see: its key fields (deal: amount, stage, owner, close "
    "date, probability, days in stage, rotting; contact: title, account, lifecycle stage, lead status and score; "
    "account: industry, size, open and won deals) and timeline highlights (last 5 activities and notes with their "
    "sentiment, open tasks with overdue ones flagged).",
    RecordSummaryArgs,
)
def record_summary(ctx: ToolContext, args: RecordSummaryArgs) -> ToolResult:
    kind = args.entity
    facts, ref = _SUMMARIES[kind](ctx, args.id)
    entries, open_tasks, counts = _timeline(ctx, (f"{kind}s", args.id))
    facts.update(_timeline_facts(ctx, entries, open_tasks, counts))
    facts["entity"] = kind
    facts = {k: (v.isoformat() if isinstance(v, (date, datetime)) else v) for k, v in facts.items()}
    facts["summary"] = _summary_text(kind, facts)
    table = _timeline_table(ctx, entries, open_tasks)
    return ToolResult(facts=facts, table=table, records=[ref, *table.records])


# stuck_deals ----------------------------------------------------------------------------------------------


def _stage(ctx: ToolContext, wanted: str) -> list[tuple[str, str, str, int | None]]:
    """The stages a name or id names (a name may exist in several pipelines)."""
    stages = _stages(ctx)
    try:
        as_id = str(UUID(wanted))
        found = [s for s in stages if s[0] == as_id]
    except ValueError:
        found = [s for s in stages if _key(s[1]) == _key(wanted)]
    if not found:
        names = ", ".join(dict.fromkeys(s[1] for s in stages))
        raise ValidationFailed(
            f"Unknown stage {wanted!r}: use one of {names}", details=[{"field": "stage", "message": "no such stage"}]
        )
    return found


@tool(
    "stuck_deals",
    "Open deals stuck in their stage: longer than the stage's rotting setting (default) or at least `min_days` "
    "in it, optionally in one stage and for one owner; with days in stage, amount and owner, longest first.",
    StuckDealsArgs,
)
def stuck_deals(ctx: ToolContext, args: StuckDealsArgs) -> ToolResult:
    params: dict[str, list[str]] = {"isClosed": ["false"], "sort": ["stageEnteredAt"]}
    facts: dict[str, Any] = {}
    if args.stage:
        matched = _stage(ctx, args.stage)
        params["stageId"] = [",".join(s[0] for s in matched)]
        facts["stage"] = matched[0][1]
        rotting_days = {s[3] for s in matched}
        if args.min_days is None and rotting_days == {None}:
            raise ValidationFailed(
                f"Stage {matched[0][1]!r} has no rotting setting: say how many days count as stuck",
                details=[{"field": "min_days", "message": "required for a stage without a rotting setting"}],
            )
        if len(rotting_days) == 1:
            facts["rotting_days"] = next(iter(rotting_days))
    if args.min_days is not None:
        params["daysInStage[gte]"] = [str(args.min_days)]
        facts["min_days"] = args.min_days
        criterion = f"at least {args.min_days} days in stage"
    else:
        criterion = "past the stage's rotting setting"
    if args.min_days is None or args.rotting_only:
        params["isRotting"] = ["true"]
        if args.min_days is not None:
            criterion += ", and rotting"
    if args.owner:
        params["ownerId"] = [_owner_id(ctx, args.owner)]
        facts["owner"] = _person(ctx, params["ownerId"][0])

    def listed(p: dict[str, list[str]]) -> RecordPage:
        return deals.list_deals(ctx.session, ctx.actor, p)

    every, cut = _all_pages(listed, {**params, "fields": ["id,amount,currency"]})
    page = listed({**params, "limit": [str(args.limit)]})
    total = page.total if page.total is not None else len(every)
    facts.update(
        {
            "count": total,
            "entity": "deals",
            "shown": len(page.items),
            "criterion": criterion,
            "description": "deals stuck in their stage",
            "empty": f"No open deals are stuck ({criterion}).",
        }
    )
    facts.update(_amount_facts("total", _amounts_by_currency(every)))
    if cut:
        facts["partial"] = f"only the first {_MAX_SCAN} deals were added up"
    if page.items:
        longest = page.items[0]
        facts["longest"] = {"name": longest["name"], "days_in_stage": longest["daysInStage"]}
    columns = [
        ("name", "Deal"),
        ("stageName", "Stage"),
        ("daysInStage", "Days in stage"),
        ("amount", "Amount"),
        ("currency", "Currency"),
        ("owner", "Owner"),
        ("isRotting", "Rotting"),
    ]
    specs = _specs(ctx, "deals")
    table = Table(
        columns=[label for _, label in columns],
        keys=[key for key, _ in columns],
        rows=[[_cell(ctx, "deals", item, key, specs) for key, _ in columns] for item in page.items],
        total=total,
        records=[RecordRef(type="deal", id=str(item["id"]), label=item["name"]) for item in page.items],
    )
    return ToolResult(facts=facts, table=table, records=table.records)


# lead_scores ----------------------------------------------------------------------------------------------


def _reason_texts(factors: Iterable[Mapping[str, Any]], top: int = 3) -> list[str]:
    return [str(f.get("text")) for f in list(factors)[:top]]


@tool(
    "lead_scores",
    "Lead scores with their reasons: one contact's score (0-100), how it was given (model or points rules) and "
    "why, or, without a contact, the highest-scored open leads the user can see with their top reasons.",
    LeadScoresArgs,
)
def lead_scores(ctx: ToolContext, args: LeadScoresArgs) -> ToolResult:
    session, actor = ctx.session, ctx.actor
    if args.contact_id is not None:
        found = scoring.contact_score(session, actor, args.contact_id, history=5)
        contact = contacts.get(session, actor, args.contact_id)
        name = f"{contact.first_name} {contact.last_name}".strip()
        current = found.current
        factors = [f.model_dump() for f in current.factors] if current is not None else []
        probability = current.predicted_conversion_probability if current is not None else None
        facts: dict[str, Any] = {
            "name": name,
            "score": found.score,
            "method": found.method,
            "model_version": found.model_version,
            "reasons": [f["text"] for f in factors],
            "probability": None if probability is None else float(probability),
            "scored_at": None if current is None else _local(ctx, current.scored_at),
            "previous_score": found.history[1].score if len(found.history) > 1 else None,
        }
        ref = RecordRef(type="contact", id=str(contact.id), label=name)
        table = Table(
            columns=["Reason", "Points"],
            keys=["text", "points"],
            rows=[[f["text"], f["points"]] for f in factors],
            records=[],
        )
        return ToolResult(facts=facts, value=found.score, table=table, records=[ref])
    rows = scoring.hottest_leads(session, actor, mine=args.mine, limit=args.limit)
    refs = [RecordRef(type="contact", id=str(c.id), label=f"{c.first_name} {c.last_name}".strip()) for c, _ in rows]
    table = Table(
        columns=["Lead", "Score", "Top reasons", "Lead status", "Company", "Owner"],
        keys=["name", "leadScore", "reasons", "leadStatus", "company", "owner"],
        rows=[
            [
                ref.label,
                c.lead_score,
                "; ".join(_reason_texts(reasons)),
                c.lead_status,
                c.company,
                _person(ctx, c.owner_id),
            ]
            for ref, (c, reasons) in zip(refs, rows, strict=True)
        ],
        records=refs,
    )
    facts = {
        "count": len(rows),
        "entity": "contacts",
        "shown": len(rows),
        "description": "top open leads by score",
        "empty": "No open leads to rank.",
        "top": [
            {"name": ref.label, "score": c.lead_score, "reasons": _reason_texts(reasons)}
            for ref, (c, reasons) in zip(refs[:3], rows[:3], strict=True)
        ],
    }
    return ToolResult(facts=facts, table=table, records=refs)


# semantic_search ------------------------------------------------------------------------------------------

_HOW = {"fulltext": "words", "fuzzy": "similar spelling", "semantic": "meaning"}


@tool(
    "semantic_search",
    "Search the user's contacts, accounts, deals, notes and activities by words and by meaning ('notes about "
    "pricing complaints' finds a note saying 'the quote is far too expensive'; 'companies like Acme' finds similar "
    "accounts). Returns the hits, best first, with how each was found.",
    SemanticSearchArgs,
)
def semantic_search(ctx: ToolContext, args: SemanticSearchArgs) -> ToolResult:
    hits = hybrid_search.search(ctx.session, ctx.actor, args.query, mode=args.mode, types=args.types, limit=args.limit)
    refs = [RecordRef(type=_SINGULAR[h.type], id=str(h.id), label=h.title) for h in hits]
    table = Table(
        columns=["Type", "Title", "Details", "Score", "Found by"],
        keys=["type", "title", "subtitle", "score", "matched"],
        rows=[
            [_SINGULAR[h.type], h.title, h.subtitle, h.score, ", ".join(_HOW.get(m, m) for m in h.matched)]
            for h in hits
        ],
        records=refs,
    )
    facts = {
        "count": len(hits),
        "description": f"matches for “{args.query}”",
        "empty": f"Nothing matches “{args.query}”.",
        "query": args.query,
        "mode": args.mode,
        "by_type": {t: sum(1 for h in hits if h.type == t) for t in dict.fromkeys(h.type for h in hits)},
        "best": None if not hits else {"type": _SINGULAR[hits[0].type], "title": hits[0].title},
    }
    return ToolResult(facts=facts, table=table, records=refs)


__all__ = [
    "FindRecordsArgs",
    "LeadScoresArgs",
    "RecordFilter",
    "RecordSummaryArgs",
    "SemanticSearchArgs",
    "StuckDealsArgs",
    "find_records",
    "lead_scores",
    "query_params",
    "record_summary",
    "semantic_search",
    "stuck_deals",
]
