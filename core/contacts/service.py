"""Contacts (the leads): create, read, list, replace, update, soft-delete, bulk work and lead conversion.

Every read goes through `actor.readable(Contact)` (tenant and own/team/all scope): a contact the actor may not
see is not found, in single and bulk calls alike. The account a contact links to must be one the actor can
see. Events: contact.created, .updated, .deleted, .converted, in the caller's transaction. Services never
commit; `convert` does all its work (account, contact, deal) in the caller's one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic.alias_generators import to_camel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, defer

from core.accounts import service as accounts
from core.accounts.models import Account
from core.accounts.schemas import AccountCreate, domain_of
from core.actor import Actor
from core.contacts.models import Contact
from core.contacts.schemas import (
    ContactConvert,
    ContactCreate,
    ContactRead,
    ContactReplace,
    ContactUpdate,
    ConversionRead,
)
from core.custom_fields import service as custom_fields
from core.deals import service as deals
from core.deals.models import Deal
from core.deals.schemas import DealCreate
from core.errors import NotFound, ValidationFailed
from core.events.service import emit
from core.ids import new_id
from core.records import bulk, listing
from core.records.owners import resolve_owner
from core.records.query import FieldSpec
from core.versioning import check_version

ENTITY = "contacts"

SPECS: dict[str, FieldSpec] = {
    spec.name: spec
    for spec in (
        FieldSpec("id", Contact.id, "uuid"),
        FieldSpec("firstName", Contact.first_name),
        FieldSpec("lastName", Contact.last_name),
        FieldSpec("email", Contact.email),
        FieldSpec("phone", Contact.phone),
        FieldSpec("mobile", Contact.mobile),
        FieldSpec("title", Contact.title),
        FieldSpec("department", Contact.department),
        FieldSpec("company", Contact.company),
        FieldSpec("leadSource", Contact.lead_source),
        FieldSpec("leadStatus", Contact.lead_status),
        FieldSpec("lifecycleStage", Contact.lifecycle_stage),
        FieldSpec("leadScore", Contact.lead_score, "int"),
        FieldSpec("tags", Contact.tags, "str_list", sortable=False),
        FieldSpec("addressStreet", Contact.address_street),
        FieldSpec("addressCity", Contact.address_city),
        FieldSpec("addressState", Contact.address_state),
        FieldSpec("addressPostalCode", Contact.address_postal_code),
        FieldSpec("addressCountry", Contact.address_country),
        FieldSpec("socialLinkedin", Contact.social_linkedin),
        FieldSpec("socialTwitter", Contact.social_twitter),
        FieldSpec("socialFacebook", Contact.social_facebook),
        FieldSpec("notes", Contact.notes, sortable=False),
        FieldSpec("isActive", Contact.is_active, "bool"),
        FieldSpec("ownerId", Contact.owner_id, "uuid"),
        FieldSpec("accountId", Contact.account_id, "uuid"),
        FieldSpec("lastContactedAt", Contact.last_contacted_at, "datetime"),
        FieldSpec("createdAt", Contact.created_at, "datetime"),
        FieldSpec("updatedAt", Contact.updated_at, "datetime"),
    )
} | listing.output_specs(*listing.OUTPUT_ONLY)

# Stages before "opportunity" in the funnel: converting moves these forward, never a customer backward.
_BEFORE_OPPORTUNITY = (None, "subscriber", "lead", "mql", "sql", "other")

# Addresses at these domains say nothing about the person's company.
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.uk",
        "hotmail.com",
        "outlook.com",
        "live.com",
        "msn.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.ru",
        "yandex.ru",
        "qq.com",
        "163.com",
        "126.com",
        "zoho.com",
        "fastmail.com",
    }
)


def readable(actor: Actor) -> Select[Any]:
    """The contacts the actor may see (no permission check; the search vector left unloaded)."""
    return actor.readable(Contact).options(defer(Contact.search))


def get(session: Session, actor: Actor, contact_id: UUID) -> Contact:
    actor.require(ENTITY, "read")
    contact = session.scalar(readable(actor).where(Contact.id == contact_id))
    if contact is None:
        raise NotFound("Contact not found")
    return contact


def serialize(contact: Contact, values: dict[str, Any]) -> dict[str, Any]:
    """The contact as JSON (camelCase), with its custom field values."""
    read = ContactRead.model_validate(contact).model_copy(update={"custom_fields": values})
    return read.model_dump(mode="json", by_alias=True)


def to_read(session: Session, actor: Actor, contact: Contact) -> ContactRead:
    values = custom_fields.values_for(session, actor, ENTITY, [contact.id])[contact.id]
    return ContactRead.model_validate(contact).model_copy(update={"custom_fields": values})


def list_contacts(
    session: Session,
    actor: Actor,
    params: Mapping[str, Sequence[str]],
    *,
    account_id: UUID | None = None,
    json_ready: bool = True,
) -> listing.RecordPage:
    """One page of contacts by the list query language; with `account_id`, that account's contacts (404
    when the actor cannot see the account). `json_ready=False`: UUIDs and datetimes in the items stay objects
    (for pydantic-core's JSON encoder, see `listing.list_page`)."""
    actor.require(ENTITY, "read")
    statement = actor.readable(Contact)  # the page selects ContactRead's columns only (no search vector)
    if account_id is not None:
        accounts.get(session, actor, account_id)
        statement = statement.where(Contact.account_id == account_id)
    return listing.list_page(
        session,
        actor,
        statement=statement,
        params=params,
        specs=SPECS,
        entity_type=ENTITY,
        model=Contact,
        serialize=serialize,
        read_schema=ContactRead,
        json_ready=json_ready,
    )


def tags_in_use(session: Session, actor: Actor, *, limit: int = 200) -> list[str]:
    """The distinct tags on the contacts the actor can see, alphabetically (filter and bulk-tag pickers)."""
    actor.require(ENTITY, "read")
    tags = actor.readable(Contact).with_only_columns(func.unnest(Contact.tags).label("tag")).subquery()
    return list(session.scalars(select(tags.c.tag).distinct().order_by(tags.c.tag).limit(limit)))


def lead_sources_in_use(session: Session, actor: Actor, *, limit: int = 200) -> list[str]:
    """The distinct lead sources of the contacts the actor can see, alphabetically (pickers; Albedo's words)."""
    actor.require(ENTITY, "read")
    statement = (
        readable(actor)
        .with_only_columns(Contact.lead_source)
        .where(Contact.lead_source.is_not(None))
        .distinct()
        .order_by(Contact.lead_source)
        .limit(limit)
    )
    return [source for source in session.scalars(statement) if source]


def _check_account(session: Session, actor: Actor, account_id: UUID | None) -> None:
    if account_id is None:
        return
    visible = actor.apply_scope(
        select(Account.id).where(
            Account.tenant_id == actor.tenant_id, Account.id == account_id, Account.deleted_at.is_(None)
        ),
        Account,
    )
    if session.scalar(visible) is None:
        raise ValidationFailed(
            "Unknown account: link the contact to an account you can see",
            details=[{"field": "accountId", "message": "no such account"}],
        )


def _event_payload(session: Session, actor: Actor, contact: Contact, changed: list[str] | None = None) -> dict:
    payload: dict[str, Any] = {"record": to_read(session, actor, contact).model_dump(mode="json", by_alias=True)}
    if changed is not None:
        payload["changed"] = changed
    return payload


def create(session: Session, actor: Actor, data: ContactCreate) -> Contact:
    actor.require(ENTITY, "create")
    owner_id = resolve_owner(session, actor, data.owner_id)
    _check_account(session, actor, data.account_id)
    contact = Contact(
        id=new_id(),
        tenant_id=actor.tenant_id,
        owner_id=owner_id,
        **data.model_dump(exclude={"owner_id", "custom_fields"}),
    )
    session.add(contact)
    session.flush()
    custom_fields.write_values(session, actor, ENTITY, contact.id, data.custom_fields, partial=False)
    emit(
        session,
        actor,
        "contact.created",
        entity_type=ENTITY,
        entity_id=contact.id,
        payload=_event_payload(session, actor, contact),
    )
    return contact


def _apply(
    session: Session,
    actor: Actor,
    contact: Contact,
    values: dict[str, Any],
    custom: Mapping[str, Any] | None,
    *,
    partial: bool,
) -> Contact:
    """Set the changed columns, write custom values, bump the version, emit contact.updated."""
    if "owner_id" in values and values["owner_id"] != contact.owner_id:
        values["owner_id"] = resolve_owner(session, actor, values["owner_id"])
    if "account_id" in values and values["account_id"] != contact.account_id:
        _check_account(session, actor, values["account_id"])
    # Custom values first: their flush must not write the record ahead of its own (single) UPDATE below.
    custom_changed = False
    if custom is not None or not partial:
        custom_changed = custom_fields.write_values(session, actor, ENTITY, contact.id, custom, partial=partial)
    changed = []
    for name, value in values.items():
        if getattr(contact, name) != value:
            setattr(contact, name, value)
            changed.append(name)
    if custom_changed:
        changed.append("custom_fields")
    if changed:
        contact.updated_at = func.now()  # type: ignore[assignment]  # also bumps `version`
        session.flush()
        emit(
            session,
            actor,
            "contact.updated",
            entity_type=ENTITY,
            entity_id=contact.id,
            payload=_event_payload(session, actor, contact, [to_camel(c) for c in changed]),
        )
    return contact


def replace(session: Session, actor: Actor, contact_id: UUID, data: ContactReplace) -> Contact:
    """PUT: the whole record; fields not sent return to their defaults, the owner stays unless sent."""
    actor.require(ENTITY, "update")
    contact = get(session, actor, contact_id)
    check_version(contact, data.version)
    values = data.model_dump(exclude={"version", "custom_fields", "owner_id"})
    if data.owner_id is not None:
        values["owner_id"] = data.owner_id
    return _apply(session, actor, contact, values, data.custom_fields, partial=False)


def update(session: Session, actor: Actor, contact_id: UUID, data: ContactUpdate) -> Contact:
    """PATCH: only the fields sent change."""
    actor.require(ENTITY, "update")
    contact = get(session, actor, contact_id)
    check_version(contact, data.version)
    values = data.model_dump(exclude_unset=True, exclude={"version", "custom_fields"})
    return _apply(session, actor, contact, values, data.custom_fields, partial=True)


def delete(session: Session, actor: Actor, contact_id: UUID) -> None:
    """Soft delete: the contact disappears from reads; its deals, activities and notes keep their links."""
    actor.require(ENTITY, "delete")
    contact = get(session, actor, contact_id)
    contact.deleted_at = datetime.now(UTC)
    session.flush()
    emit(
        session,
        actor,
        "contact.deleted",
        entity_type=ENTITY,
        entity_id=contact.id,
        payload={"id": str(contact.id), "email": contact.email},
    )


# Bulk ----------------------------------------------------------------------------------------------------


def bulk_create(session: Session, actor: Actor, items: Sequence[Mapping[str, Any]]) -> bulk.BulkOutcome:
    """Create each item (validated as for `create`) in its own savepoint; bad items become error results."""
    actor.require(ENTITY, "create")
    bulk.check_size(items, field="contacts")

    def work(item: Mapping[str, Any]) -> UUID:
        return create(session, actor, ContactCreate.model_validate(item)).id

    return bulk.run_each(session, items, work)


def bulk_update(session: Session, actor: Actor, ids: Sequence[UUID], updates: ContactUpdate) -> bulk.BulkOutcome:
    """Apply the same PATCH to each contact; one the actor cannot see is a per-item 404."""
    actor.require(ENTITY, "update")
    bulk.check_size(ids, field="ids")
    return bulk.run_each(
        session,
        ids,
        lambda contact_id: update(session, actor, contact_id, updates).id,
        key=lambda contact_id: contact_id,
    )


def bulk_delete(session: Session, actor: Actor, ids: Sequence[UUID]) -> bulk.BulkOutcome:
    """Soft-delete each contact; one the actor cannot see is a per-item 404."""
    actor.require(ENTITY, "delete")
    bulk.check_size(ids, field="ids")

    return bulk.delete_each(session, ids, lambda record_id: delete(session, actor, record_id))


# Conversion ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conversion:
    contact: Contact
    account: Account | None
    account_created: bool
    deal: Deal


def _company_name(domain: str) -> str:
    """`acme-robotics.co.uk` -> `Acme-robotics`: the first label of the domain, capitalised."""
    return domain.split(".", 1)[0].capitalize()


def _account_for(session: Session, actor: Actor, contact: Contact) -> tuple[Account | None, bool]:
    """The account a converted lead belongs to: an account the actor can see with the lead's business email
    domain, else a new one named after the lead's company (or that domain). None when there is nothing to
    name it after."""
    domain = domain_of(None, contact.email)
    if domain in FREE_MAIL_DOMAINS:
        domain = None
    if domain:
        existing = accounts.find_by_domain(session, actor, domain)
        if existing is not None:
            return existing, False
    name = contact.company or (_company_name(domain) if domain else None)
    if not name:
        return None, False
    account = accounts.create(
        session,
        actor,
        AccountCreate(
            name=name[:255], website=domain if domain and domain_of(domain) else None, owner_id=contact.owner_id
        ),
    )
    return account, True


def convert(session: Session, actor: Actor, contact_id: UUID, data: ContactConvert) -> Conversion:
    """Turn a lead into a deal, in the caller's one transaction: link (or create) its account when it has
    none, move its lifecycle stage to "opportunity" and create the deal through the deals service. Any
    failure (the deal's pipeline or stage, a permission) raises and the caller's rollback undoes it all."""
    actor.require(ENTITY, "update")
    actor.require("deals", "create")
    contact = get(session, actor, contact_id)
    check_version(contact, data.version)
    account: Account | None = None
    created = False
    if contact.account_id is not None:
        account = session.scalar(accounts.readable(actor).where(Account.id == contact.account_id))
    elif data.create_account:
        account, created = _account_for(session, actor, contact)
        if account is not None:
            contact.account_id = account.id
    if contact.lifecycle_stage in _BEFORE_OPPORTUNITY:
        contact.lifecycle_stage = "opportunity"
    contact.updated_at = func.now()  # type: ignore[assignment]  # the conversion is a change of the contact
    session.flush()
    deal = deals.create(
        session,
        actor,
        DealCreate(
            name=data.deal_name
            or (account.name if account is not None else f"{contact.first_name} {contact.last_name}"),
            amount=data.amount,
            currency=data.currency,
            pipeline_id=data.pipeline_id,
            stage_id=data.stage_id,
            account_id=contact.account_id,
            contact_id=contact.id,
            owner_id=contact.owner_id,
            expected_close_date=data.expected_close_date,
            lead_source=contact.lead_source,
        ),
    )
    emit(
        session,
        actor,
        "contact.converted",
        entity_type=ENTITY,
        entity_id=contact.id,
        payload={
            "dealId": str(deal.id),
            "accountId": str(contact.account_id) if contact.account_id else None,
            "accountCreated": created,
        },
    )
    return Conversion(contact=contact, account=account, account_created=created, deal=deal)


def conversion_read(session: Session, actor: Actor, result: Conversion) -> ConversionRead:
    return ConversionRead(
        contact=to_read(session, actor, result.contact),
        account=accounts.to_read(session, actor, result.account) if result.account is not None else None,
        account_created=result.account_created,
        deal=deals.to_read(session, actor, result.deal),
    )
