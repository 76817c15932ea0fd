"""Accounts (companies): create, read, list, replace, update and soft-delete, with a parent hierarchy.

Every read goes through `actor.readable(Account)` (tenant and own/team/all scope), so an account the actor
may not see is simply not found. A parent must be an account the actor can see and must not make a cycle;
`domain` is derived from the website (else the email) on every write. Events: account.created, .updated,
.deleted, written in the caller's transaction. Services never commit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic.alias_generators import to_camel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased, defer

from core.accounts.models import Account
from core.accounts.schemas import AccountCreate, AccountRead, AccountReplace, AccountUpdate, domain_of
from core.actor import Actor
from core.custom_fields import service as custom_fields
from core.deals import service as deals
from core.deals.models import Deal
from core.deals.schemas import DealRead
from core.errors import NotFound, ValidationFailed
from core.events.service import emit
from core.ids import new_id
from core.records import bulk, listing
from core.records.owners import resolve_owner
from core.records.query import FieldSpec
from core.versioning import check_version

ENTITY = "accounts"

SPECS: dict[str, FieldSpec] = {
    spec.name: spec
    for spec in (
        FieldSpec("id", Account.id, "uuid"),
        FieldSpec("name", Account.name),
        FieldSpec("domain", Account.domain),
        FieldSpec("website", Account.website),
        FieldSpec("industry", Account.industry),
        FieldSpec("companySize", Account.company_size),
        FieldSpec("annualRevenue", Account.annual_revenue, "decimal"),
        FieldSpec("phone", Account.phone),
        FieldSpec("email", Account.email),
        FieldSpec("addressStreet", Account.address_street),
        FieldSpec("addressCity", Account.address_city),
        FieldSpec("addressState", Account.address_state),
        FieldSpec("addressPostalCode", Account.address_postal_code),
        FieldSpec("addressCountry", Account.address_country),
        FieldSpec("description", Account.description, sortable=False),
        FieldSpec("tags", Account.tags, "str_list", sortable=False),
        FieldSpec("isActive", Account.is_active, "bool"),
        FieldSpec("ownerId", Account.owner_id, "uuid"),
        FieldSpec("parentId", Account.parent_id, "uuid"),
        FieldSpec("createdAt", Account.created_at, "datetime"),
        FieldSpec("updatedAt", Account.updated_at, "datetime"),
    )
} | listing.output_specs(*listing.OUTPUT_ONLY)


def readable(actor: Actor) -> Select[Any]:
    """The accounts the actor may see (no permission check; the search vector left unloaded)."""
    return actor.readable(Account).options(defer(Account.search))


def get(session: Session, actor: Actor, account_id: UUID) -> Account:
    actor.require(ENTITY, "read")
    account = session.scalar(readable(actor).where(Account.id == account_id))
    if account is None:
        raise NotFound("Account not found")
    return account


def serialize(account: Account, values: dict[str, Any]) -> dict[str, Any]:
    """The account as JSON (camelCase), with its custom field values."""
    read = AccountRead.model_validate(account).model_copy(update={"custom_fields": values})
    return read.model_dump(mode="json", by_alias=True)


def to_read(session: Session, actor: Actor, account: Account) -> AccountRead:
    values = custom_fields.values_for(session, actor, ENTITY, [account.id])[account.id]
    return AccountRead.model_validate(account).model_copy(update={"custom_fields": values})


def list_accounts(
    session: Session, actor: Actor, params: Mapping[str, Sequence[str]], *, parent_id: UUID | None = None
) -> listing.RecordPage:
    """One page of accounts by the list query language (`parent_id`: only that account's children)."""
    actor.require(ENTITY, "read")
    statement = readable(actor)
    if parent_id is not None:
        statement = statement.where(Account.parent_id == parent_id)
    return listing.list_page(
        session,
        actor,
        statement=statement,
        params=params,
        specs=SPECS,
        entity_type=ENTITY,
        model=Account,
        serialize=serialize,
    )


def children(
    session: Session, actor: Actor, account_id: UUID, params: Mapping[str, Sequence[str]]
) -> listing.RecordPage:
    """The direct child accounts the actor may see."""
    get(session, actor, account_id)
    return list_accounts(session, actor, params, parent_id=account_id)


def list_deals(
    session: Session, actor: Actor, account_id: UUID, *, page: int, limit: int
) -> tuple[list[DealRead], int]:
    """The account's deals the actor may see, newest first (as the deals API reads them), with their total."""
    get(session, actor, account_id)
    statement = actor.readable(Deal, "deals").where(Deal.account_id == account_id).options(defer(Deal.search))
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = session.scalars(
        statement.order_by(Deal.created_at.desc(), Deal.id.desc()).limit(limit).offset((page - 1) * limit)
    )
    return deals.to_reads(session, actor, list(rows)), total


def tags_in_use(session: Session, actor: Actor, *, limit: int = 200) -> list[str]:
    """The distinct tags on the accounts the actor can see, alphabetically (filter and bulk-tag pickers)."""
    actor.require(ENTITY, "read")
    tags = actor.readable(Account).with_only_columns(func.unnest(Account.tags).label("tag")).subquery()
    return list(session.scalars(select(tags.c.tag).distinct().order_by(tags.c.tag).limit(limit)))


def industries_in_use(session: Session, actor: Actor, *, limit: int = 200) -> list[str]:
    """The distinct industries of the accounts the actor can see, alphabetically (the list's filter)."""
    actor.require(ENTITY, "read")
    statement = (
        actor.readable(Account)
        .with_only_columns(Account.industry)
        .where(Account.industry.is_not(None))
        .distinct()
        .order_by(Account.industry)
        .limit(limit)
    )
    return [industry for industry in session.scalars(statement) if industry]


def find_by_domain(session: Session, actor: Actor, domain: str) -> Account | None:
    """The oldest account with this domain that the actor can see."""
    return session.scalar(
        readable(actor).where(Account.domain == domain.lower()).order_by(Account.created_at, Account.id).limit(1)
    )


def _hierarchy_lock(session: Session, actor: Actor) -> None:
    """Serialise parent changes within a tenant, so two concurrent moves cannot close a cycle together."""
    digest = hashlib.blake2b(f"accounts.hierarchy:{actor.tenant_id}".encode(), digest_size=8).digest()
    session.execute(select(func.pg_advisory_xact_lock(int.from_bytes(digest, "big", signed=True))))


def _check_parent(session: Session, actor: Actor, account_id: UUID | None, parent_id: UUID | None) -> None:
    if parent_id is None:
        return
    problem = None
    if parent_id == account_id:
        problem = "an account cannot be its own parent"
    else:
        visible = actor.apply_scope(
            select(Account.id).where(
                Account.tenant_id == actor.tenant_id, Account.id == parent_id, Account.deleted_at.is_(None)
            ),
            Account,
        )
        if session.scalar(visible) is None:
            problem = "no such account"
        elif account_id is not None:
            _hierarchy_lock(session, actor)
            ancestors = (
                select(Account.id, Account.parent_id)
                .where(Account.tenant_id == actor.tenant_id, Account.id == parent_id)
                .cte("ancestors", recursive=True)
            )
            up = aliased(Account)
            ancestors = ancestors.union(
                select(up.id, up.parent_id).where(up.tenant_id == actor.tenant_id, up.id == ancestors.c.parent_id)
            )
            if session.scalar(select(ancestors.c.id).where(ancestors.c.id == account_id).limit(1)) is not None:
                problem = "this parent is one of the account's own descendants (a cycle)"
    if problem:
        raise ValidationFailed(
            f"Invalid parent account: {problem}", details=[{"field": "parentId", "message": problem}]
        )


def _event_payload(session: Session, actor: Actor, account: Account, changed: list[str] | None = None) -> dict:
    payload: dict[str, Any] = {"record": to_read(session, actor, account).model_dump(mode="json", by_alias=True)}
    if changed is not None:
        payload["changed"] = changed
    return payload


def create(session: Session, actor: Actor, data: AccountCreate) -> Account:
    actor.require(ENTITY, "create")
    owner_id = resolve_owner(session, actor, data.owner_id)
    _check_parent(session, actor, None, data.parent_id)
    fields = data.model_dump(exclude={"owner_id", "custom_fields"})
    account = Account(
        id=new_id(),
        tenant_id=actor.tenant_id,
        owner_id=owner_id,
        domain=domain_of(data.website, data.email),
        **fields,
    )
    session.add(account)
    session.flush()
    custom_fields.write_values(session, actor, ENTITY, account.id, data.custom_fields, partial=False)
    emit(
        session,
        actor,
        "account.created",
        entity_type=ENTITY,
        entity_id=account.id,
        payload=_event_payload(session, actor, account),
    )
    return account


def _apply(
    session: Session,
    actor: Actor,
    account: Account,
    values: dict[str, Any],
    custom: Mapping[str, Any] | None,
    *,
    partial: bool,
) -> Account:
    """Set the changed columns (re-deriving the domain), write custom values, bump the version, emit."""
    if "owner_id" in values and values["owner_id"] != account.owner_id:
        values["owner_id"] = resolve_owner(session, actor, values["owner_id"])
    if "parent_id" in values and values["parent_id"] != account.parent_id:
        _check_parent(session, actor, account.id, values["parent_id"])
    # Custom values first: their flush must not write the record ahead of its own (single) UPDATE below.
    custom_changed = False
    if custom is not None or not partial:
        custom_changed = custom_fields.write_values(session, actor, ENTITY, account.id, custom, partial=partial)
    changed = []
    for name, value in values.items():
        if getattr(account, name) != value:
            setattr(account, name, value)
            changed.append(name)
    if {"website", "email"} & set(changed):
        domain = domain_of(account.website, account.email)
        if domain != account.domain:
            account.domain = domain
            changed.append("domain")
    if custom_changed:
        changed.append("custom_fields")
    if changed:
        account.updated_at = func.now()  # type: ignore[assignment]  # also bumps `version`
        session.flush()
        emit(
            session,
            actor,
            "account.updated",
            entity_type=ENTITY,
            entity_id=account.id,
            payload=_event_payload(session, actor, account, [to_camel(c) for c in changed]),
        )
    return account


def replace(session: Session, actor: Actor, account_id: UUID, data: AccountReplace) -> Account:
    """PUT: the whole record; fields not sent return to their defaults, the owner stays unless sent."""
    actor.require(ENTITY, "update")
    account = get(session, actor, account_id)
    check_version(account, data.version)
    values = data.model_dump(exclude={"version", "custom_fields", "owner_id"})
    if data.owner_id is not None:
        values["owner_id"] = data.owner_id
    return _apply(session, actor, account, values, data.custom_fields, partial=False)


def update(session: Session, actor: Actor, account_id: UUID, data: AccountUpdate) -> Account:
    """PATCH: only the fields sent change."""
    actor.require(ENTITY, "update")
    account = get(session, actor, account_id)
    check_version(account, data.version)
    values = data.model_dump(exclude_unset=True, exclude={"version", "custom_fields"})
    return _apply(session, actor, account, values, data.custom_fields, partial=True)


def delete(session: Session, actor: Actor, account_id: UUID) -> None:
    """Soft delete: the account disappears from reads; its contacts, deals and children keep their links."""
    actor.require(ENTITY, "delete")
    account = get(session, actor, account_id)
    account.deleted_at = datetime.now(UTC)
    session.flush()
    emit(
        session,
        actor,
        "account.deleted",
        entity_type=ENTITY,
        entity_id=account.id,
        payload={"id": str(account.id), "name": account.name},
    )


# Bulk ----------------------------------------------------------------------------------------------------


def bulk_create(session: Session, actor: Actor, items: Sequence[Mapping[str, Any]]) -> bulk.BulkOutcome:
    """Create each item (validated as for `create`) in its own savepoint; bad items become error results."""
    actor.require(ENTITY, "create")
    bulk.check_size(items, field="accounts")
    return bulk.run_each(session, items, lambda item: create(session, actor, AccountCreate.model_validate(item)).id)


def bulk_update(session: Session, actor: Actor, ids: Sequence[UUID], updates: AccountUpdate) -> bulk.BulkOutcome:
    """Apply the same PATCH to each account; one the actor cannot see is a per-item 404."""
    actor.require(ENTITY, "update")
    bulk.check_size(ids, field="ids")
    return bulk.run_each(
        session, ids, lambda account_id: update(session, actor, account_id, updates).id, key=lambda i: i
    )


def bulk_delete(session: Session, actor: Actor, ids: Sequence[UUID]) -> bulk.BulkOutcome:
    """Soft-delete each account; one the actor cannot see is a per-item 404."""
    actor.require(ENTITY, "delete")
    bulk.check_size(ids, field="ids")
    return bulk.delete_each(session, ids, lambda record_id: delete(session, actor, record_id))
