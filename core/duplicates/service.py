"""Likely duplicates (contacts, accounts) and reversible merges.

Detection, always within what the actor may read (tenant and record scope):
- contacts: the same email (stored lower-case), or a similar full name (rapidfuzz ratio >= 90) at the same
  account or with the same phone (digits only, the last 9 digits, phone or mobile);
- accounts: the same domain, or a similar name once normalised (lower-case, punctuation and legal suffixes
  such as Inc, LLC, Ltd, GmbH, SA, Corp, Co removed).
Candidates come from SQL in bounded sets; rapidfuzz compares them in Python.

Merge (`merge_contacts`, `merge_accounts`; permission `<type>:merge`, both records readable): in the caller's
one transaction the survivor keeps its values and takes the other's where it has none (tags: the union), the
other's activities, notes, tasks, deals (and, for accounts, contacts and child accounts) and custom field values
move to the survivor, and the other is soft-deleted with `merged_into_id`. One event, `contact.merged` /
`account.merged`, carries a merge id and exactly what moved (ids per table, fields filled, tags added).

Undo (`unmerge`): reads that event (the outbox row is written in the merge's transaction and never changed)
rather than re-deriving the move from audit rows, which also hold unrelated later edits. It moves back only
the rows still on the survivor, clears filled fields whose value is unchanged, removes the added tags and
restores the merged record. The audit triggers record every row of both operations as usual.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import combinations
from typing import Any
from uuid import UUID

from rapidfuzz import fuzz, utils
from sqlalchemy import func, or_, select, union_all, update
from sqlalchemy.orm import Session

from core.accounts import service as accounts
from core.accounts.models import Account
from core.activities.models import Activity
from core.actor import Actor
from core.contacts import service as contacts
from core.contacts.models import Contact
from core.custom_fields import service as custom_fields
from core.custom_fields.models import CustomFieldValue
from core.deals.models import Deal
from core.duplicates.schemas import DuplicateMatch, DuplicatePair, DuplicateRef, MergeResult, UnmergeResult
from core.errors import Conflict, NotFound, ValidationFailed
from core.events.models import Event
from core.events.service import emit
from core.ids import new_id
from core.notes.models import Note
from core.search.service import prefix_condition
from core.tasks.models import Task

NAME_THRESHOLD = 90.0
MAX_GROUP_ROWS = 5000
MAX_BUCKET = 200
MAX_CANDIDATES = 500
LEGAL_SUFFIXES = frozenset(
    {"inc", "incorporated", "llc", "ltd", "limited", "gmbh", "sa", "corp", "corporation", "co", "plc", "ag"}
)
_PUNCTUATION = re.compile(r"[^\w\s]|_")

CONTACT_FIELDS = (
    "email",
    "phone",
    "mobile",
    "title",
    "department",
    "company",
    "lead_source",
    "lead_status",
    "lifecycle_stage",
    "address_street",
    "address_city",
    "address_state",
    "address_postal_code",
    "address_country",
    "social_linkedin",
    "social_twitter",
    "social_facebook",
    "notes",
    "account_id",
    "last_contacted_at",
)
# parent_id is left out: taking the other's parent could close a cycle in the hierarchy.
ACCOUNT_FIELDS = (
    "domain",
    "website",
    "industry",
    "company_size",
    "annual_revenue",
    "phone",
    "email",
    "address_street",
    "address_city",
    "address_state",
    "address_postal_code",
    "address_country",
    "description",
)


# Normalisation ---------------------------------------------------------------------------------------------


def normalize_company(name: str | None) -> str:
    """`Acme, Inc.` -> `acme`: lower-case, punctuation gone, trailing legal suffixes dropped."""
    words = _PUNCTUATION.sub(" ", (name or "").lower()).split()
    while len(words) > 1 and words[-1] in LEGAL_SUFFIXES:
        words.pop()
    return " ".join(words)


def phone_key(phone: str | None) -> str | None:
    """The last 9 digits of a phone number (country codes and formatting vary); None when shorter."""
    digits = re.sub(r"\D", "", phone or "")
    return digits[-9:] if len(digits) >= 9 else None


def _phone_sql(column: Any) -> Any:
    """`phone_key` in SQL (the length check is the caller's)."""
    return func.right(func.regexp_replace(column, r"\D", "", "g"), 9)


def name_similarity(a: str, b: str) -> float:
    return float(fuzz.ratio(a, b, processor=utils.default_process))


def _full_name(row: Any) -> str:
    return f"{row.first_name} {row.last_name}"


def _contact_ref(row: Any) -> DuplicateRef:
    return DuplicateRef(id=row.id, name=_full_name(row), email=row.email, phone=row.phone, account_id=row.account_id)


def _account_ref(row: Any) -> DuplicateRef:
    return DuplicateRef(id=row.id, name=row.name, domain=row.domain)


# Contacts --------------------------------------------------------------------------------------------------


def _contact_rows(actor: Actor) -> Any:
    return actor.readable(Contact).with_only_columns(
        Contact.id,
        Contact.first_name,
        Contact.last_name,
        Contact.email,
        Contact.phone,
        Contact.mobile,
        Contact.account_id,
    )


def _contact_reasons(a: Any, b: Any) -> tuple[list[str], float]:
    """Why two contacts look like one person, and how sure (0-1); no reasons when they do not."""
    reasons = []
    similarity = name_similarity(_full_name(a), _full_name(b))
    if a.email and a.email == b.email:
        reasons.append("same_email")
    if similarity >= NAME_THRESHOLD:
        if a.account_id is not None and a.account_id == b.account_id:
            reasons.append("similar_name_same_account")
        keys_a = {phone_key(a.phone), phone_key(a.mobile)} - {None}
        if keys_a & ({phone_key(b.phone), phone_key(b.mobile)} - {None}):
            reasons.append("similar_name_same_phone")
    score = 1.0 if "same_email" in reasons else similarity / 100
    return reasons, round(score, 4)


def _pairs(groups: Iterable[list[Any]], reasons_of: Any, refs: Any) -> dict[tuple[str, str], DuplicatePair]:
    found: dict[tuple[str, str], DuplicatePair] = {}
    for group in groups:
        for a, b in combinations(group[:MAX_BUCKET], 2):
            if a.id == b.id:
                continue
            first, second = (a, b) if str(a.id) < str(b.id) else (b, a)
            key = (str(first.id), str(second.id))
            if key in found:
                continue
            reasons, score = reasons_of(first, second)
            if reasons:
                found[key] = DuplicatePair(records=[refs(first), refs(second)], reasons=reasons, score=score)
    return found


def _ranked(pairs: Iterable[DuplicatePair], limit: int) -> list[DuplicatePair]:
    return sorted(pairs, key=lambda p: (-p.score, p.records[0].name.lower(), str(p.records[0].id)))[:limit]


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= 100:
        raise ValidationFailed("limit must be between 1 and 100", details=[{"field": "limit", "message": "1-100"}])


def find_contact_duplicates(session: Session, actor: Actor, *, limit: int = 50) -> list[DuplicatePair]:
    """Pairs of contacts the actor can see that are probably the same person, surest first."""
    actor.require("contacts", "read")
    _check_limit(limit)
    base = _contact_rows(actor)
    visible = actor.readable(Contact)
    groups: list[list[Any]] = []

    shared_emails = visible.with_only_columns(Contact.email).where(Contact.email.is_not(None))
    shared_emails = shared_emails.group_by(Contact.email).having(func.count() > 1)
    by_email: dict[str, list[Any]] = defaultdict(list)
    rows = session.execute(base.where(Contact.email.in_(shared_emails)).limit(MAX_GROUP_ROWS))
    for row in rows:
        by_email[row.email].append(row)
    groups.extend(by_email.values())

    shared_accounts = visible.with_only_columns(Contact.account_id).where(Contact.account_id.is_not(None))
    shared_accounts = shared_accounts.group_by(Contact.account_id).having(func.count() > 1)
    by_account: dict[Any, list[Any]] = defaultdict(list)
    rows = session.execute(
        base.where(Contact.account_id.in_(shared_accounts)).order_by(Contact.account_id).limit(MAX_GROUP_ROWS)
    )
    for row in rows:
        by_account[row.account_id].append(row)
    groups.extend(by_account.values())

    by_phone: dict[str, list[Any]] = defaultdict(list)
    keyed = union_all(
        *[
            visible.with_only_columns(Contact.id, _phone_sql(column).label("key")).where(
                func.length(func.regexp_replace(column, r"\D", "", "g")) >= 9
            )
            for column in (Contact.phone, Contact.mobile)
        ]
    ).subquery()
    shared_phones = select(keyed.c.key).group_by(keyed.c.key).having(func.count(func.distinct(keyed.c.id)) > 1)
    rows = session.execute(
        base.where(
            or_(_phone_sql(Contact.phone).in_(shared_phones), _phone_sql(Contact.mobile).in_(shared_phones))
        ).limit(MAX_GROUP_ROWS)
    )
    for row in rows:
        for key in {phone_key(row.phone), phone_key(row.mobile)} - {None}:
            by_phone[key or ""].append(row)
    groups.extend(by_phone.values())

    return _ranked(_pairs(groups, _contact_reasons, _contact_ref).values(), limit)


def contact_duplicates_of(session: Session, actor: Actor, contact_id: UUID) -> list[DuplicateMatch]:
    """The contacts the actor can see that are probably the same person as this one (404 when it cannot)."""
    contacts.get(session, actor, contact_id)
    me = session.execute(_contact_rows(actor).where(Contact.id == contact_id)).one()
    conditions = []
    if me.email:
        conditions.append(Contact.email == me.email)
    if me.account_id is not None:
        conditions.append(Contact.account_id == me.account_id)
    for key in {phone_key(me.phone), phone_key(me.mobile)} - {None}:
        for column in (Contact.phone, Contact.mobile):
            conditions.append(_phone_sql(column) == key)
    if not conditions:
        return []
    candidates = session.execute(
        _contact_rows(actor).where(Contact.id != contact_id, or_(*conditions)).limit(MAX_CANDIDATES)
    )
    matches = []
    for row in candidates:
        reasons, score = _contact_reasons(me, row)
        if reasons:
            matches.append(DuplicateMatch(record=_contact_ref(row), reasons=reasons, score=score))
    return sorted(matches, key=lambda m: (-m.score, m.record.name.lower(), str(m.record.id)))


# Accounts --------------------------------------------------------------------------------------------------


def _account_rows(actor: Actor) -> Any:
    return actor.readable(Account).with_only_columns(Account.id, Account.name, Account.domain)


def _account_reasons(a: Any, b: Any) -> tuple[list[str], float]:
    reasons = []
    if a.domain and a.domain == b.domain:
        reasons.append("same_domain")
    left, right = normalize_company(a.name), normalize_company(b.name)
    similarity = 100.0 if left == right else name_similarity(left, right)
    if left and similarity >= NAME_THRESHOLD:
        reasons.append("similar_name")
    score = 1.0 if "same_domain" in reasons else similarity / 100
    return reasons, round(score, 4)


def find_account_duplicates(session: Session, actor: Actor, *, limit: int = 50) -> list[DuplicatePair]:
    """Pairs of accounts the actor can see that are probably the same company, surest first."""
    actor.require("accounts", "read")
    _check_limit(limit)
    base = _account_rows(actor)
    visible = actor.readable(Account)
    groups: list[list[Any]] = []

    shared = visible.with_only_columns(Account.domain).where(Account.domain.is_not(None))
    shared = shared.group_by(Account.domain).having(func.count() > 1)
    by_domain: dict[str, list[Any]] = defaultdict(list)
    for row in session.execute(base.where(Account.domain.in_(shared)).limit(MAX_GROUP_ROWS)):
        by_domain[row.domain].append(row)
    groups.extend(by_domain.values())

    # Similar names share their first letters once normalised: compare within those buckets only.
    by_start: dict[str, list[Any]] = defaultdict(list)
    for row in session.execute(base.order_by(func.lower(Account.name)).limit(MAX_GROUP_ROWS * 4)):
        normal = normalize_company(row.name)
        if normal:
            by_start[normal[:3]].append(row)
    groups.extend(g for g in by_start.values() if len(g) > 1)

    return _ranked(_pairs(groups, _account_reasons, _account_ref).values(), limit)


def account_duplicates_of(session: Session, actor: Actor, account_id: UUID) -> list[DuplicateMatch]:
    """The accounts the actor can see that are probably the same company as this one (404 when it cannot)."""
    accounts.get(session, actor, account_id)
    me = session.execute(_account_rows(actor).where(Account.id == account_id)).one()
    conditions = []
    if me.domain:
        conditions.append(Account.domain == me.domain)
    normal = normalize_company(me.name)
    if normal:
        conditions.append(prefix_condition(Account.name, normal[:3]))
    if not conditions:
        return []
    candidates = session.execute(
        _account_rows(actor).where(Account.id != account_id, or_(*conditions)).limit(MAX_CANDIDATES)
    )
    matches = []
    for row in candidates:
        reasons, score = _account_reasons(me, row)
        if reasons:
            matches.append(DuplicateMatch(record=_account_ref(row), reasons=reasons, score=score))
    return sorted(matches, key=lambda m: (-m.score, m.record.name.lower(), str(m.record.id)))


# Merge -----------------------------------------------------------------------------------------------------

# For each merged type: (table label, model, column pointing at the record) moved on merge.
_CONTACT_LINKS: tuple[tuple[str, Any, Any], ...] = (
    ("activities", Activity, Activity.contact_id),
    ("tasks", Task, Task.contact_id),
    ("deals", Deal, Deal.contact_id),
)
_ACCOUNT_LINKS: tuple[tuple[str, Any, Any], ...] = (
    ("activities", Activity, Activity.account_id),
    ("tasks", Task, Task.account_id),
    ("deals", Deal, Deal.account_id),
    ("contacts", Contact, Contact.account_id),
    ("accounts", Account, Account.parent_id),
)
_KINDS: dict[str, tuple[Any, str, tuple[tuple[str, Any, Any], ...], tuple[str, ...], Any]] = {
    "contacts": (Contact, "contact", _CONTACT_LINKS, CONTACT_FIELDS, contacts),
    "accounts": (Account, "account", _ACCOUNT_LINKS, ACCOUNT_FIELDS, accounts),
}


def _json(value: Any) -> Any:
    if isinstance(value, (UUID, Decimal)):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _move(
    session: Session, actor: Actor, model: Any, column: Any, from_id: UUID, to_id: UUID, only: list[UUID] | None
) -> list[UUID]:
    """Point `column` of the tenant's rows from one record to the other (only the given rows, when given)."""
    statement = update(model).where(model.tenant_id == actor.tenant_id, column == from_id)
    if model is Account:
        statement = statement.where(model.id != to_id)  # never make an account its own parent
    if only is not None:
        if not only:
            return []
        statement = statement.where(model.id.in_(only))
    values: dict[Any, Any] = {column: to_id}
    if hasattr(model, "version"):
        values[model.version] = model.version + 1
    result = session.execute(
        statement.values(values).returning(model.id), execution_options={"synchronize_session": False}
    )
    return list(result.scalars())


def _move_note_rows(
    session: Session, actor: Actor, entity_type: str, from_id: UUID, to_id: UUID, only: list[UUID] | None
) -> list[UUID]:
    statement = update(Note).where(
        Note.tenant_id == actor.tenant_id, Note.entity_type == entity_type, Note.entity_id == from_id
    )
    if only is not None:
        if not only:
            return []
        statement = statement.where(Note.id.in_(only))
    result = session.execute(
        statement.values({Note.entity_id: to_id, Note.version: Note.version + 1}).returning(Note.id),
        execution_options={"synchronize_session": False},
    )
    return list(result.scalars())


def _move_custom_values(
    session: Session, actor: Actor, entity_type: str, from_id: UUID, to_id: UUID, only: list[UUID] | None
) -> list[UUID]:
    if only is None:
        before = set(
            session.scalars(
                select(CustomFieldValue.id).where(
                    CustomFieldValue.tenant_id == actor.tenant_id, CustomFieldValue.entity_id == from_id
                )
            )
        )
        custom_fields.move_values(session, actor, entity_type, from_id, to_id)
        after = session.scalars(
            select(CustomFieldValue.id).where(
                CustomFieldValue.tenant_id == actor.tenant_id, CustomFieldValue.entity_id == to_id
            )
        )
        return [value_id for value_id in after if value_id in before]
    if not only:
        return []
    result = session.execute(
        update(CustomFieldValue)
        .where(
            CustomFieldValue.tenant_id == actor.tenant_id,
            CustomFieldValue.entity_id == from_id,
            CustomFieldValue.id.in_(only),
        )
        .values({CustomFieldValue.entity_id: to_id})
        .returning(CustomFieldValue.id),
        execution_options={"synchronize_session": False},
    )
    return list(result.scalars())


def _merge(session: Session, actor: Actor, entity_type: str, survivor_id: UUID, other_id: UUID) -> MergeResult:
    model, singular, links, fields, service = _KINDS[entity_type]
    actor.require(entity_type, "merge")
    if survivor_id == other_id:
        raise ValidationFailed(
            f"A {singular} cannot be merged into itself",
            details=[{"field": "otherId", "message": "must differ from the survivor"}],
        )
    survivor = service.get(session, actor, survivor_id)
    other = service.get(session, actor, other_id)
    session.flush()

    filled: dict[str, Any] = {}
    for name in fields:
        mine, theirs = getattr(survivor, name), getattr(other, name)
        if _empty(mine) and not _empty(theirs):
            setattr(survivor, name, theirs)
            filled[name] = _json(theirs)
    tags_added = [tag for tag in other.tags if tag not in survivor.tags]
    if tags_added:
        survivor.tags = [*survivor.tags, *tags_added]

    moved: dict[str, list[UUID]] = {}
    for label, link_model, column in links:
        moved[label] = _move(session, actor, link_model, column, other_id, survivor_id, None)
    moved["notes"] = _move_note_rows(session, actor, entity_type, other_id, survivor_id, None)
    moved["customFieldValues"] = _move_custom_values(session, actor, entity_type, other_id, survivor_id, None)

    other.deleted_at = datetime.now(UTC)
    other.merged_into_id = survivor_id
    survivor.updated_at = func.now()
    session.flush()
    session.refresh(survivor)

    merge_id = new_id()
    emit(
        session,
        actor,
        f"{singular}.merged",
        entity_type=entity_type,
        entity_id=survivor_id,
        payload={
            "mergeId": str(merge_id),
            "survivorId": str(survivor_id),
            "mergedId": str(other_id),
            "moved": {label: [str(i) for i in ids] for label, ids in moved.items()},
            "filled": filled,
            "tagsAdded": tags_added,
        },
    )
    return MergeResult(
        merge_id=merge_id,
        survivor=service.to_read(session, actor, survivor).model_dump(mode="json", by_alias=True),
        merged_id=other_id,
        moved={label: len(ids) for label, ids in moved.items()},
        filled=sorted(filled),
    )


def merge_contacts(session: Session, actor: Actor, survivor_id: UUID, other_id: UUID) -> MergeResult:
    """Merge contact `other_id` into `survivor_id` (see the module docstring); the caller commits."""
    return _merge(session, actor, "contacts", survivor_id, other_id)


def merge_accounts(session: Session, actor: Actor, survivor_id: UUID, other_id: UUID) -> MergeResult:
    """Merge account `other_id` into `survivor_id` (see the module docstring); the caller commits."""
    return _merge(session, actor, "accounts", survivor_id, other_id)


def unmerge(session: Session, actor: Actor, entity_type: str, merged_id: UUID) -> UnmergeResult:
    """Undo the latest merge of `merged_id` (a contact or account merged into another): restore it and move
    back what that merge moved and what is still on the survivor. 404 when the actor cannot see it merged."""
    if entity_type not in _KINDS:
        raise NotFound(f"No such record type: {entity_type}")
    model, singular, links, fields, service = _KINDS[entity_type]
    actor.require(entity_type, "merge")
    merged = session.scalar(
        actor.apply_scope(
            select(model).where(
                model.tenant_id == actor.tenant_id, model.id == merged_id, model.merged_into_id.is_not(None)
            ),
            model,
        )
    )
    if merged is None:
        raise NotFound(f"{singular.capitalize()} not found or not merged")
    event = session.scalar(
        select(Event)
        .where(
            Event.tenant_id == actor.tenant_id,
            Event.type == f"{singular}.merged",
            Event.payload["mergedId"].astext == str(merged_id),
        )
        .order_by(Event.created_at.desc(), Event.id.desc())
        .limit(1)
    )
    if event is None or event.payload.get("survivorId") != str(merged.merged_into_id):
        raise Conflict(f"No record of how this {singular} was merged; it cannot be unmerged")
    survivor_id = merged.merged_into_id
    try:
        survivor = service.get(session, actor, survivor_id)
    except NotFound:
        raise Conflict(f"The {singular} it was merged into is gone; restore that one first") from None
    payload = event.payload
    session.flush()

    ids = {label: [UUID(i) for i in values] for label, values in payload.get("moved", {}).items()}
    back: dict[str, list[UUID]] = {}
    for label, link_model, column in links:
        back[label] = _move(session, actor, link_model, column, survivor_id, merged_id, ids.get(label, []))
    back["notes"] = _move_note_rows(session, actor, entity_type, survivor_id, merged_id, ids.get("notes", []))
    back["customFieldValues"] = _move_custom_values(
        session, actor, entity_type, survivor_id, merged_id, ids.get("customFieldValues", [])
    )

    for name, value in payload.get("filled", {}).items():
        if name in fields and _json(getattr(survivor, name)) == value:
            setattr(survivor, name, None)
    added = set(payload.get("tagsAdded", []))
    if added:
        survivor.tags = [tag for tag in survivor.tags if tag not in added]
    survivor.updated_at = func.now()
    merged.deleted_at = None
    merged.merged_into_id = None
    session.flush()
    session.refresh(merged)
    emit(
        session,
        actor,
        f"{singular}.unmerged",
        entity_type=entity_type,
        entity_id=merged_id,
        payload={
            "mergeId": payload.get("mergeId"),
            "survivorId": str(survivor_id),
            "restoredId": str(merged_id),
            "movedBack": {label: [str(i) for i in values] for label, values in back.items()},
        },
    )
    return UnmergeResult(
        merge_id=UUID(payload["mergeId"]),
        restored=service.to_read(session, actor, merged).model_dump(mode="json", by_alias=True),
        survivor_id=survivor_id,
        moved_back={label: len(values) for label, values in back.items()},
    )
