"""Duplicates and merges on the real database: detection, permission filtering, merge moves and audit, unmerge."""

from __future__ import annotations

from uuid import UUID

import pytest
from sqlalchemy import select

from core.accounts import service as accounts
from core.accounts.schemas import AccountCreate
from core.activities import service as activities
from core.activities.schemas import ActivityCreate
from core.actor import Actor
from core.contacts import service as contacts
from core.contacts.schemas import ContactCreate
from core.custom_fields import service as custom_fields
from core.custom_fields.schemas import CustomFieldCreate
from core.db import unit_of_work
from core.deals import service as deals
from core.deals.schemas import DealCreate
from core.duplicates import service as duplicates
from core.duplicates.service import normalize_company, phone_key
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.events.models import Event
from core.notes import service as notes
from core.notes.schemas import NoteCreate
from core.tasks import service as tasks
from core.tasks.schemas import TaskCreate
from tests.core.conftest import owner_rows
from tests.factories import TenantWorld, create_tenant


@pytest.fixture(scope="module")
def home() -> TenantWorld:
    return create_tenant()


def contact(world: TenantWorld, first: str, last: str, actor: Actor | None = None, **fields: object) -> UUID:
    actor = actor or world.admin
    with unit_of_work(actor) as session:
        return contacts.create(session, actor, ContactCreate(first_name=first, last_name=last, **fields)).id


def account(world: TenantWorld, name: str, actor: Actor | None = None, **fields: object) -> UUID:
    actor = actor or world.admin
    with unit_of_work(actor) as session:
        return accounts.create(session, actor, AccountCreate(name=name, **fields)).id


def pairs(actor: Actor, kind: str = "contacts") -> list[tuple[set[UUID], list[str]]]:
    with unit_of_work(actor) as session:
        finder = duplicates.find_contact_duplicates if kind == "contacts" else duplicates.find_account_duplicates
        return [({r.id for r in p.records}, p.reasons) for p in finder(session, actor, limit=100)]


def test_normalisation_helpers():
    assert normalize_company("Acme, Inc.") == normalize_company("ACME LLC") == "acme"
    assert normalize_company("Müller GmbH & Co") == "müller"
    assert phone_key("+1 (415) 555-0100") == phone_key("415.555.0100") == "155550100"
    assert phone_key("555-01") is None


def test_contacts_with_one_email_or_a_similar_name_at_one_account_or_phone_are_pairs(home):
    org = account(home, "Pairs Org")
    same_email = {
        contact(home, "Jo", "Smith", email="jo@pairs.example"),
        contact(home, "J", "S", email="JO@pairs.example"),
    }
    same_account = {
        contact(home, "Katherine", "Johnson", account_id=org),
        contact(home, "Katherine", "Johnsen", account_id=org),
    }
    same_phone = {
        contact(home, "Dorothy", "Vaughan", phone="+1 415 555 0199"),
        contact(home, "Dorothy", "Vaughn", mobile="(415) 555-0199"),
    }
    unrelated = {contact(home, "Mary", "Jackson", account_id=org), contact(home, "Annie", "Easley", account_id=org)}
    found = pairs(home.admin)
    assert (same_email, ["same_email"]) in found
    assert (same_account, ["similar_name_same_account"]) in found
    assert (same_phone, ["similar_name_same_phone"]) in found
    assert not any(ids <= unrelated for ids, _ in found)

    katherine = next(iter(same_account))
    with unit_of_work(home.admin) as session:
        [match] = duplicates.contact_duplicates_of(session, home.admin, katherine)
    assert match.record.id in same_account - {katherine} and match.reasons == ["similar_name_same_account"]


def test_accounts_with_one_domain_or_a_similar_name_are_pairs(home):
    by_domain = {
        account(home, "Zeta One", website="https://zeta.example"),
        account(home, "Other Name", website="zeta.example"),
    }
    by_name = {account(home, "Quorvex, Inc."), account(home, "QUORVEX LLC")}
    found = pairs(home.admin, "accounts")
    assert (by_domain, ["same_domain"]) in found
    assert (by_name, ["similar_name"]) in found
    first = next(iter(by_name))
    with unit_of_work(home.admin) as session:
        matches = duplicates.account_duplicates_of(session, home.admin, first)
    assert [m.record.id for m in matches] == list(by_name - {first})


def test_a_rep_sees_only_duplicates_among_their_own_records_and_no_other_tenant(home):
    rep = home.actor(home.add_user("rep"))
    other_tenant = create_tenant()
    mine = contact(home, "Ravi", "Patel", rep, email="ravi@own.example")
    theirs = contact(home, "Ravi", "Patel", email="ravi@own.example")
    assert not any(mine in ids or theirs in ids for ids, _ in pairs(rep))
    with unit_of_work(rep) as session:
        assert duplicates.contact_duplicates_of(session, rep, mine) == []
        with pytest.raises(NotFound):
            duplicates.contact_duplicates_of(session, rep, theirs)
    assert not any(theirs in ids for ids, _ in pairs(other_tenant.admin))
    with unit_of_work(other_tenant.admin) as session, pytest.raises(NotFound):
        duplicates.contact_duplicates_of(session, other_tenant.admin, theirs)


def _related(world: TenantWorld, actor: Actor, contact_id: UUID, label: str) -> dict[str, UUID]:
    with unit_of_work(actor) as session:
        return {
            "activity": activities.create(
                session, actor, ActivityCreate(type="call", subject=f"{label} call", contact_id=contact_id)
            ).id,
            "note": notes.create(session, actor, "contacts", contact_id, NoteCreate(body=f"{label} note")).id,
            "task": tasks.create(session, actor, TaskCreate(title=f"{label} task", contact_id=contact_id)).id,
            "deal": deals.create(session, actor, DealCreate(name=f"{label} deal", contact_id=contact_id)).id,
        }


def _links(contact_id: UUID) -> dict[str, set[UUID]]:
    return {
        "activities": {r[0] for r in owner_rows("SELECT id FROM activities WHERE contact_id = :c", c=contact_id)},
        "notes": {r[0] for r in owner_rows("SELECT id FROM notes WHERE entity_id = :c", c=contact_id)},
        "tasks": {r[0] for r in owner_rows("SELECT id FROM tasks WHERE contact_id = :c", c=contact_id)},
        "deals": {r[0] for r in owner_rows("SELECT id FROM deals WHERE contact_id = :c", c=contact_id)},
        "values": {r[0] for r in owner_rows("SELECT id FROM custom_field_values WHERE entity_id = :c", c=contact_id)},
    }


def test_merge_moves_everything_is_audited_and_unmerge_restores_both_sides(home):
    admin = home.admin
    with unit_of_work(admin) as session:
        for name in ("shoe_size", "nickname"):
            custom_fields.create(
                session,
                admin,
                CustomFieldCreate(entity_type="contacts", field_name=name, field_label=name, field_type="text"),
            )
    survivor = contact(home, "Grace", "Hopper", tags=["navy"], custom_fields={"nickname": "Amazing"})
    other = contact(
        home,
        "Grace",
        "Hoper",
        email="grace@cobol.example",
        title="Rear Admiral",
        tags=["navy", "cobol"],
        custom_fields={"nickname": "G", "shoe_size": "7"},
    )
    _related(home, admin, survivor, "Mine")
    _related(home, admin, other, "Theirs")
    before = {"survivor": _links(survivor), "other": _links(other)}

    with unit_of_work(admin) as session:
        result = duplicates.merge_contacts(session, admin, survivor, other)
    assert result.moved == {"activities": 1, "tasks": 1, "deals": 1, "notes": 1, "customFieldValues": 1}
    assert sorted(result.filled) == ["email", "title"]
    after = _links(survivor)
    for label in ("activities", "notes", "tasks", "deals"):
        assert after[label] == before["survivor"][label] | before["other"][label]
    assert len(after["values"]) == 2 and len(_links(other)["values"]) == 1  # the survivor kept its nickname
    with unit_of_work(admin) as session:
        merged = contacts.get(session, admin, survivor)
        assert (merged.email, merged.title, merged.tags) == ("grace@cobol.example", "Rear Admiral", ["navy", "cobol"])
        assert custom_fields.values_for(session, admin, "contacts", [survivor])[survivor] == {
            "nickname": "Amazing",
            "shoe_size": "7",
        }
        with pytest.raises(NotFound):
            contacts.get(session, admin, other)
        [event] = session.scalars(select(Event).where(Event.type == "contact.merged", Event.entity_id == survivor))
        assert event.payload["mergedId"] == str(other) and event.payload["mergeId"] == str(result.merge_id)
    [(merged_into, deleted_at)] = owner_rows("SELECT merged_into_id, deleted_at FROM contacts WHERE id = :i", i=other)
    assert merged_into == survivor and deleted_at is not None
    audited = owner_rows(
        "SELECT entity_type, action FROM audit_logs WHERE entity_id = ANY(:ids) AND action IN ('update', 'delete')",
        ids=[other, *before["other"]["activities"], *before["other"]["deals"]],
    )
    assert ("contacts", "delete") in audited and ("activities", "update") in audited and ("deals", "update") in audited

    with unit_of_work(admin) as session:
        undone = duplicates.unmerge(session, admin, "contacts", other)
    assert undone.survivor_id == survivor and undone.restored["id"] == str(other)
    assert {"survivor": _links(survivor), "other": _links(other)} == before
    with unit_of_work(admin) as session:
        restored = contacts.get(session, admin, other)
        kept = contacts.get(session, admin, survivor)
        assert (kept.email, kept.title, kept.tags) == (None, None, ["navy"])
        assert restored.email == "grace@cobol.example"
    [(merged_into,)] = owner_rows("SELECT merged_into_id FROM contacts WHERE id = :i", i=other)
    assert merged_into is None
    with unit_of_work(admin) as session, pytest.raises(NotFound):
        duplicates.unmerge(session, admin, "contacts", other)  # not merged any more


def test_merging_accounts_moves_contacts_and_children_and_unmerges(home):
    admin = home.admin
    survivor = account(home, "Initech")
    other = account(home, "Initech LLC", website="initech.example", tags=["legacy"])
    person = contact(home, "Peter", "Gibbons", account_id=other)
    child = account(home, "Initech Labs", parent_id=other)
    with unit_of_work(admin) as session:
        result = duplicates.merge_accounts(session, admin, survivor, other)
        assert result.moved["contacts"] == 1 and result.moved["accounts"] == 1
        assert contacts.get(session, admin, person).account_id == survivor
        assert accounts.get(session, admin, child).parent_id == survivor
        assert accounts.get(session, admin, survivor).domain == "initech.example"
    with unit_of_work(admin) as session:
        duplicates.unmerge(session, admin, "accounts", other)
    with unit_of_work(admin) as session:
        assert contacts.get(session, admin, person).account_id == other
        assert accounts.get(session, admin, child).parent_id == other
        assert accounts.get(session, admin, survivor).domain is None
        assert accounts.get(session, admin, other).tags == ["legacy"]


def test_merge_refuses_itself_missing_permission_and_records_out_of_scope(home):
    admin = home.admin
    rep = home.actor(home.add_user("rep"))
    one = contact(home, "Solo", "Person")
    mine = contact(home, "Rep", "Own", rep)
    with unit_of_work(admin) as session, pytest.raises(ValidationFailed):
        duplicates.merge_contacts(session, admin, one, one)
    with unit_of_work(rep) as session, pytest.raises(PermissionDenied):
        duplicates.merge_contacts(session, rep, mine, one)
    manager = home.actor(home.add_user("manager"))  # team scope, no team: only their own records
    with unit_of_work(manager) as session, pytest.raises(NotFound):
        duplicates.merge_contacts(session, manager, one, mine)
    assert owner_rows("SELECT deleted_at FROM contacts WHERE id = ANY(:ids)", ids=[one, mine]) == [(None,), (None,)]
