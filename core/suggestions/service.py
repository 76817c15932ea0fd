"""Field suggestions: read with their record (`insights:read` and the record's scope), accepted or rejected by
people, and replaced by the worker's enrichment pass (`insights:manage`, the platform).

- **Accept** writes the suggested value through the record's own service (`contacts.update`, `accounts.update`,
  `accounts.create` for a suggested new account, `duplicates.merge_*` for a duplicate), so the record's
  permission, audit, version and event apply as for any edit. It is refused (409, nothing written) when the
  suggestion was already decided, when the caller's `version` of the record is not the current one, or when the
  field has changed since the suggestion was made (stale: the value it would replace is no longer there).
- **Reject** records the decision (who, when); the same suggestion (record, field, value) is never made again.
- **Replace** (the worker): a record's open suggestions become exactly what enrichment now proposes; decided
  ones stay as they are.

Computing suggestions is ai/insights/enrichment's job; this module keeps what it proposes and what people decide.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from core.accounts import service as accounts
from core.accounts.schemas import AccountCreate, AccountUpdate
from core.actor import Actor
from core.contacts import service as contacts
from core.contacts.schemas import ContactUpdate
from core.custom_fields import service as custom_fields
from core.errors import Conflict, NotFound, ValidationFailed
from core.suggestions.models import ENTITY_TYPES, EnrichmentState, FieldSuggestion
from core.suggestions.schemas import NewSuggestion, SuggestionRead
from core.versioning import check_version

RESOURCE = "insights"
DUPLICATE = "duplicate_of"
SENIORITY = "seniority"
SENIORITY_TAG = "Seniority: "
# Plain columns a suggestion may set, per record type (the special fields are account_id, seniority, duplicate_of).
PLAIN_FIELDS: dict[str, tuple[str, ...]] = {
    "contacts": ("company", "department", "phone", "mobile", "address_country", "address_state"),
    "accounts": ("name", "industry", "phone", "address_country", "address_state"),
}
FIELD_LABELS = {
    "account_id": "Account",
    "company": "Company",
    "department": "Department",
    SENIORITY: "Seniority",
    "phone": "Phone",
    "mobile": "Mobile",
    "address_country": "Country",
    "address_state": "State / region",
    "name": "Name",
    "industry": "Industry",
    DUPLICATE: "Duplicate of",
}


def fields_of(entity_type: str) -> tuple[str, ...]:
    special = ("account_id", SENIORITY, DUPLICATE) if entity_type == "contacts" else (DUPLICATE,)
    return (*PLAIN_FIELDS[entity_type], *special)


def fingerprint(field: str, suggested_value: Any) -> str:
    """The identity of a proposal: its field and value (a rejected one is recognised when proposed again)."""
    return hashlib.sha256(json.dumps([field, jsonable(suggested_value)], sort_keys=True).encode()).hexdigest()


def jsonable(value: Any) -> Any:
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _check_type(entity_type: str) -> None:
    if entity_type not in ENTITY_TYPES:
        raise ValidationFailed(
            f"entityType must be one of {', '.join(ENTITY_TYPES)}",
            details=[{"field": "entityType", "message": f"one of {', '.join(ENTITY_TYPES)}"}],
        )


def get_record(session: Session, actor: Actor, entity_type: str, entity_id: UUID) -> Any:
    """The contact or account, as the actor may read it (404 otherwise)."""
    _check_type(entity_type)
    service = contacts if entity_type == "contacts" else accounts
    return service.get(session, actor, entity_id)


def _seniority_field(session: Session, actor: Actor) -> bool:
    """Whether the tenant keeps seniority in a contacts custom field named `seniority` (else: a tag)."""
    return any(f.field_name == SENIORITY for f in custom_fields.definitions(session, actor, "contacts"))


def current_value(session: Session, actor: Actor, entity_type: str, record: Any, field: str) -> Any:
    """The record's value for a suggestion's field, as suggestions store it (JSON-ready)."""
    if field == DUPLICATE:
        return None
    if field == SENIORITY:
        if _seniority_field(session, actor):
            return custom_fields.values_for(session, actor, entity_type, [record.id])[record.id].get(SENIORITY)
        tagged = [t[len(SENIORITY_TAG) :] for t in record.tags if t.startswith(SENIORITY_TAG)]
        return tagged[0] if tagged else None
    return jsonable(getattr(record, field))


def to_read(row: FieldSuggestion, now_value: Any = None, *, stale: bool | None = None) -> SuggestionRead:
    if stale is None:
        stale = row.status == "open" and jsonable(now_value) != row.current_value
    return SuggestionRead.model_validate(row).model_copy(
        update={"stale": stale, "field_label": FIELD_LABELS.get(row.field, row.field)}
    )


def _readable_rows(actor: Actor) -> Any:
    return select(FieldSuggestion).where(FieldSuggestion.tenant_id == actor.tenant_id)


def list_for_record(
    session: Session, actor: Actor, entity_type: str, entity_id: UUID, *, include_decided: bool = False
) -> list[SuggestionRead]:
    """A record's suggestions (open ones; with `include_decided`, accepted and rejected ones too), surest first,
    each flagged stale when its field changed since it was made."""
    actor.require(RESOURCE, "read")
    record = get_record(session, actor, entity_type, entity_id)
    statement = _readable_rows(actor).where(
        FieldSuggestion.entity_type == entity_type, FieldSuggestion.entity_id == entity_id
    )
    if not include_decided:
        statement = statement.where(FieldSuggestion.status == "open")
    rows = session.scalars(statement.order_by(FieldSuggestion.confidence.desc(), FieldSuggestion.field)).all()
    values: dict[str, Any] = {}
    out = []
    for row in rows:
        if row.field not in values:
            values[row.field] = current_value(session, actor, entity_type, record, row.field)
        out.append(to_read(row, values[row.field]))
    return out


def get(session: Session, actor: Actor, suggestion_id: UUID, *, lock: bool = False) -> FieldSuggestion:
    """One suggestion, found only when the actor may read its record."""
    actor.require(RESOURCE, "read")
    statement = _readable_rows(actor).where(FieldSuggestion.id == suggestion_id)
    row = session.scalar(statement.with_for_update() if lock else statement)
    if row is None:
        raise NotFound("Suggestion not found")
    try:
        get_record(session, actor, row.entity_type, row.entity_id)
    except NotFound:
        raise NotFound("Suggestion not found") from None
    return row


def _decided(row: FieldSuggestion) -> Conflict:
    return Conflict(
        f"This suggestion was already {row.status}; it can be decided once",
        details={"status": row.status},
        code="SUGGESTION_DECIDED",
    )


def _show(value: Any) -> str:
    return "empty" if value in (None, "", []) else f"'{value}'"


def accept(
    session: Session, actor: Actor, suggestion_id: UUID, *, version: int | None = None
) -> tuple[SuggestionRead, Any]:
    """Apply the suggestion through the record's service; returns it (accepted) and the record as it is now."""
    row = get(session, actor, suggestion_id, lock=True)
    if row.status != "open":
        raise _decided(row)
    record = get_record(session, actor, row.entity_type, row.entity_id)
    check_version(record, version)
    now_value = current_value(session, actor, row.entity_type, record, row.field)
    if now_value != row.current_value:
        label = FIELD_LABELS.get(row.field, row.field).lower()
        raise Conflict(
            f"The {label} was changed since this suggestion was made (it is now {_show(now_value)}, was "
            f"{_show(row.current_value)}): the suggestion is stale and was not applied",
            details={"field": row.field, "currentValue": now_value, "valueWhenSuggested": row.current_value},
            code="SUGGESTION_STALE",
        )
    if row.field == DUPLICATE:
        try:
            get_record(session, actor, row.entity_type, UUID(row.suggested_value))
        except NotFound:
            raise Conflict(
                f"{row.suggested_label} no longer exists (merged or deleted): the suggestion is stale and was not "
                "applied",
                details={"field": row.field},
                code="SUGGESTION_STALE",
            ) from None
    result = _apply(session, actor, row, record)
    row.status = "accepted"
    row.decided_at = datetime.now(UTC)
    row.decided_by = actor.user_id
    session.flush()
    return to_read(row, stale=False), result


def _apply(session: Session, actor: Actor, row: FieldSuggestion, record: Any) -> Any:
    value = row.suggested_value
    if row.field == DUPLICATE:
        from core.duplicates import service as duplicates  # imports contacts and accounts too

        merge = duplicates.merge_contacts if row.entity_type == "contacts" else duplicates.merge_accounts
        # the other (older) record survives: this one is merged into it, reversibly (unmerge)
        return merge(session, actor, UUID(value), record.id).survivor
    if row.entity_type == "accounts":
        if row.field not in PLAIN_FIELDS["accounts"]:
            raise ValidationFailed(f"Accounts have no suggested field {row.field}")
        account = accounts.update(
            session, actor, record.id, AccountUpdate(**{row.field: value}, version=record.version)
        )
        return accounts.to_read(session, actor, account).model_dump(mode="json", by_alias=True)
    changes: dict[str, Any]
    custom: dict[str, Any] | None = None
    if row.field == "account_id" and isinstance(value, dict):
        account = accounts.create(
            session,
            actor,
            AccountCreate(name=value["name"], website=value.get("website"), owner_id=record.owner_id),
        )
        changes = {"account_id": account.id}
    elif row.field == "account_id":
        changes = {"account_id": UUID(value)}
    elif row.field == SENIORITY:
        if _seniority_field(session, actor):
            changes, custom = {}, {SENIORITY: value}
        else:
            tags = [t for t in record.tags if not t.startswith(SENIORITY_TAG)]
            changes = {"tags": [*tags, f"{SENIORITY_TAG}{value}"]}
    elif row.field in PLAIN_FIELDS["contacts"]:
        changes = {row.field: value}
    else:
        raise ValidationFailed(f"Contacts have no suggested field {row.field}")
    contact = contacts.update(
        session, actor, record.id, ContactUpdate(**changes, custom_fields=custom, version=record.version)
    )
    return contacts.to_read(session, actor, contact).model_dump(mode="json", by_alias=True)


def reject(session: Session, actor: Actor, suggestion_id: UUID) -> SuggestionRead:
    """Record that the suggestion is wrong: it is not shown again, nor made again."""
    row = get(session, actor, suggestion_id, lock=True)
    actor.require(row.entity_type, "update")
    if row.status != "open":
        raise _decided(row)
    row.status = "rejected"
    row.decided_at = datetime.now(UTC)
    row.decided_by = actor.user_id
    session.flush()
    return to_read(row, stale=False)


# The worker's side -------------------------------------------------------------------------------------------


def replace_open(
    session: Session,
    actor: Actor,
    entity_type: str,
    entity_ids: Sequence[UUID],
    proposals: Sequence[NewSuggestion],
    *,
    computed_at: datetime | None = None,
) -> int:
    """Make the open suggestions of these records exactly `proposals` (new ones added, open ones refreshed,
    ones no longer proposed removed); decided ones are kept and never reopened. Returns the rows written."""
    actor.require(RESOURCE, "manage")
    _check_type(entity_type)
    if not entity_ids:
        return 0
    computed_at = computed_at or datetime.now(UTC)
    rows = []
    for p in proposals:
        if p.entity_type != entity_type or p.field not in fields_of(entity_type):
            raise ValueError(f"not a suggestion for {entity_type}: {p.entity_type}.{p.field}")
        rows.append(
            {
                "tenant_id": actor.tenant_id,
                "entity_type": entity_type,
                "entity_id": p.entity_id,
                "field": p.field,
                "current_value": jsonable(p.current_value),
                "suggested_value": jsonable(p.suggested_value),
                "suggested_label": p.suggested_label[:300],
                "confidence": round(min(1.0, max(0.0, float(p.confidence))), 3),
                "reason": p.reason[:300],
                "source": p.source[:100],
                "model_version": p.model_version,
                "fingerprint": fingerprint(p.field, p.suggested_value),
                "computed_at": computed_at,
            }
        )
    keys = [f"{r['entity_id']}:{r['field']}:{r['fingerprint']}" for r in rows]
    session.execute(
        text(
            "DELETE FROM field_suggestions WHERE tenant_id = :t AND entity_type = :e AND status = 'open'"
            " AND entity_id = ANY(CAST(:ids AS uuid[]))"
            " AND (entity_id::text || ':' || field || ':' || fingerprint) <> ALL(CAST(:keys AS text[]))"
        ),
        {"t": actor.tenant_id, "e": entity_type, "ids": list(entity_ids), "keys": keys},
    )
    if not rows:
        return 0
    written = 0
    for lo in range(0, len(rows), 1000):
        values = insert(FieldSuggestion).values(rows[lo : lo + 1000])
        upsert = values.on_conflict_do_update(
            index_elements=["tenant_id", "entity_type", "entity_id", "field", "fingerprint"],
            set_={
                c: values.excluded[c]
                for c in (
                    "current_value",
                    "suggested_label",
                    "confidence",
                    "reason",
                    "source",
                    "model_version",
                    "computed_at",
                )
            },
            where=FieldSuggestion.status == "open",
        ).returning(FieldSuggestion.id)
        written += len(session.execute(upsert).all())
    return written


def enriched_through(session: Session, actor: Actor) -> datetime | None:
    """How far the enrichment pass over changed records has got (None before the first pass)."""
    return session.scalar(select(EnrichmentState.enriched_through).where(EnrichmentState.tenant_id == actor.tenant_id))


def mark_enriched(session: Session, actor: Actor, through: datetime) -> None:
    actor.require(RESOURCE, "manage")
    statement = insert(EnrichmentState).values(tenant_id=actor.tenant_id, enriched_through=through)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["tenant_id"], set_={"enriched_through": statement.excluded.enriched_through}
        )
    )


def open_counts(session: Session, actor: Actor) -> dict[str, int]:
    """Open suggestions of the tenant per field (for the Insights page and the figures)."""
    actor.require(RESOURCE, "read")
    rows = session.execute(
        select(FieldSuggestion.field, func.count())
        .where(FieldSuggestion.tenant_id == actor.tenant_id, FieldSuggestion.status == "open")
        .group_by(FieldSuggestion.field)
    )
    return {field: int(n) for field, n in rows}
