"""Custom fields: definitions, typed validation of values, and their use in list filters and sorts."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from core.custom_fields import service as cf
from core.custom_fields.models import CustomFieldValue
from core.custom_fields.schemas import CustomFieldCreate, CustomFieldUpdate
from core.db import unit_of_work
from core.errors import Conflict, PermissionDenied, ValidationFailed
from core.ids import new_id
from core.models import Contact
from core.records import query as q
from tests.core.conftest import owner_rows

FIELDS = [
    ("industry_code", "text", None, False),
    ("budget", "number", None, False),
    ("renewal", "date", None, False),
    ("vip", "boolean", None, False),
    ("tier", "select", ["gold", "silver", "bronze"], False),
    ("channels", "multi_select", ["email", "phone", "chat"], False),
]


def _contact(session, world, first: str, last: str) -> Contact:
    contact = Contact(id=new_id(), tenant_id=world.tenant_id, owner_id=world.admin_id, first_name=first, last_name=last)
    session.add(contact)
    session.flush()
    return contact


@pytest.fixture
def crm(tenant):
    admin = tenant.admin
    with unit_of_work(admin) as session:
        for name, kind, options, required in FIELDS:
            cf.create(
                session,
                admin,
                CustomFieldCreate(
                    entity_type="contacts",
                    field_name=name,
                    field_label=name.title(),
                    field_type=kind,
                    field_options=options,
                    is_required=required,
                ),
            )
        people = {}
        for first, last, values in [
            ("Ada", "Lovelace", {"budget": 1200.5, "tier": "gold", "channels": ["email", "chat"], "vip": True}),
            ("Alan", "Turing", {"budget": 300, "tier": "silver", "channels": ["phone"], "renewal": "2026-03-01"}),
            ("Grace", "Hopper", {"budget": 9000, "tier": "gold", "vip": False, "industry_code": "NAVY"}),
            ("Edsger", "Dijkstra", {}),
        ]:
            contact = _contact(session, tenant, first, last)
            cf.write_values(session, admin, "contacts", contact.id, values, partial=False)
            people[last] = contact.id
    tenant.people = people
    return tenant


def _list(world, **params):
    admin = world.admin
    with unit_of_work(admin) as session:
        specs = {
            "id": q.FieldSpec("id", Contact.id, "uuid"),
            "lastName": q.FieldSpec("lastName", Contact.last_name),
            "createdAt": q.FieldSpec("createdAt", Contact.created_at, "datetime"),
            **cf.field_specs(session, admin, "contacts", Contact.id),
        }
        listed = q.parse({k: [v] for k, v in params.items()}, specs)
        statement = q.apply(admin.readable(Contact), listed, id_column=Contact.id)
        if listed.cursor is not None:
            statement = statement.add_columns(*(s.expression.label(s.name) for s, _ in listed.sort))
        result = q.page(session, statement, listed, id_spec=specs["id"])
        return [row[0].last_name for row in result.rows], result


def test_values_are_returned_json_ready_in_one_query(crm):
    admin = crm.admin
    with unit_of_work(admin) as session:
        values = cf.values_for(session, admin, "contacts", list(crm.people.values()))
    assert values[crm.people["Lovelace"]] == {
        "budget": 1200.5,
        "vip": True,
        "tier": "gold",
        "channels": ["email", "chat"],
    }
    assert values[crm.people["Turing"]]["budget"] == 300
    assert isinstance(values[crm.people["Turing"]]["budget"], int)
    assert values[crm.people["Turing"]]["renewal"] == "2026-03-01"
    assert values[crm.people["Dijkstra"]] == {}


def test_custom_fields_filter_and_sort_as_their_types(crm):
    assert _list(crm, **{"cf.tier": "gold", "sort": "lastName"})[0] == ["Hopper", "Lovelace"]
    assert _list(crm, **{"cf.budget[gte]": "1000", "sort": "-cf.budget"})[0] == ["Hopper", "Lovelace"]
    assert _list(crm, **{"cf.budget[lt]": "1000.0"})[0] == ["Turing"]
    assert _list(crm, **{"cf.renewal[gte]": "2026-01-01"})[0] == ["Turing"]
    assert _list(crm, **{"cf.vip": "false"})[0] == ["Hopper"]
    assert _list(crm, **{"cf.channels": "chat,phone", "sort": "lastName"})[0] == ["Lovelace", "Turing"]
    assert _list(crm, **{"cf.channels[contains]": "phone"})[0] == ["Turing"]
    assert _list(crm, **{"cf.channels[ne]": "email", "sort": "lastName"})[0] == ["Dijkstra", "Hopper", "Turing"]
    assert _list(crm, **{"cf.industry_code[isnull]": "false"})[0] == ["Hopper"]
    assert _list(crm, sort="cf.budget,lastName")[0] == ["Turing", "Lovelace", "Hopper", "Dijkstra"]  # empty last


def test_custom_field_sort_pages_by_cursor(crm):
    seen, cursor = [], ""
    while cursor is not None:
        names, result = _list(crm, sort="-cf.budget", limit="1", cursor=cursor)
        seen += names
        cursor = result.next_cursor
    assert seen == ["Hopper", "Lovelace", "Turing", "Dijkstra"]
    seen, cursor = [], ""
    while cursor is not None:
        names, result = _list(crm, sort="-cf.vip,lastName", limit="1", cursor=cursor)
        seen += names
        cursor = result.next_cursor
    assert seen == ["Lovelace", "Hopper", "Dijkstra", "Turing"]


def test_unknown_and_unsortable_custom_fields_are_named(crm):
    with pytest.raises(ValidationFailed) as raised:
        _list(crm, **{"cf.shoe_size": "42", "sort": "cf.channels"})
    fields = {d["field"] for d in raised.value.details}
    assert fields == {"cf.shoe_size", "cf.channels"}
    with pytest.raises(ValidationFailed, match="cf.budget"):
        _list(crm, **{"cf.budget": "lots"})


def test_every_invalid_value_is_named_in_one_error_and_nothing_is_written(crm):
    admin = crm.admin
    contact_id = crm.people["Dijkstra"]
    bad = {
        "budget": "100",
        "renewal": "next tuesday",
        "vip": "yes",
        "tier": "platinum",
        "channels": ["email", "pigeon"],
        "industry_code": 42,
        "shoe_size": 42,
    }
    with unit_of_work(admin) as session, pytest.raises(ValidationFailed) as raised:
        cf.write_values(session, admin, "contacts", contact_id, {**bad, "budget": True}, partial=True)
    named = {d["field"] for d in raised.value.details}
    assert named == {f"customFields.{k}" for k in bad}
    assert owner_rows("SELECT 1 FROM custom_field_values WHERE entity_id = :e", e=contact_id) == []


def test_required_fields_on_full_writes_and_clearing(crm):
    admin = crm.admin
    contact_id = crm.people["Lovelace"]
    with unit_of_work(admin) as session:
        field = next(f for f in cf.list_fields(session, admin, entity_type="contacts") if f.field_name == "tier")
        cf.update(session, admin, field.id, CustomFieldUpdate(is_required=True))
    with unit_of_work(admin) as session, pytest.raises(ValidationFailed) as raised:
        cf.write_values(session, admin, "contacts", contact_id, {"budget": 1}, partial=False)
    assert [d["field"] for d in raised.value.details] == ["customFields.tier"]
    with unit_of_work(admin) as session, pytest.raises(ValidationFailed):
        cf.write_values(session, admin, "contacts", contact_id, {"tier": ""}, partial=True)
    with unit_of_work(admin) as session:  # a partial write leaves the others; None clears one
        cf.write_values(
            session, admin, "contacts", contact_id, {"budget": None, "renewal": date(2027, 1, 2)}, partial=True
        )
        values = cf.values_for(session, admin, "contacts", [contact_id])[contact_id]
    assert values == {"vip": True, "tier": "gold", "channels": ["email", "chat"], "renewal": "2027-01-02"}
    with unit_of_work(admin) as session:  # a full write replaces the set
        cf.write_values(session, admin, "contacts", contact_id, {"tier": "bronze"}, partial=False)
        assert cf.values_for(session, admin, "contacts", [contact_id])[contact_id] == {"tier": "bronze"}


def test_move_values_keeps_the_survivors_own(crm):
    admin = crm.admin
    survivor, other = crm.people["Lovelace"], crm.people["Hopper"]
    with unit_of_work(admin) as session:
        cf.move_values(session, admin, "contacts", other, survivor)
        values = cf.values_for(session, admin, "contacts", [survivor, other])
    assert values[survivor] == {
        "industry_code": "NAVY",
        "budget": 1200.5,
        "vip": True,
        "tier": "gold",
        "channels": ["email", "chat"],
    }
    assert values[other] == {"budget": 9000, "vip": False, "tier": "gold"}
    with unit_of_work(admin) as session:
        cf.delete_values(session, admin, "contacts", other)
        assert cf.values_for(session, admin, "contacts", [other])[other] == {}


def test_definition_rules(crm, make_tenant):
    admin = crm.admin
    with unit_of_work(admin) as session:
        fields = {f.field_name: f for f in cf.list_fields(session, admin, entity_type="contacts")}
    with unit_of_work(admin) as session, pytest.raises(Conflict):
        cf.create(
            session,
            admin,
            CustomFieldCreate(entity_type="contacts", field_name="tier", field_label="Again", field_type="text"),
        )
    with unit_of_work(admin) as session, pytest.raises(ValidationFailed, match="options"):
        cf.create(
            session,
            admin,
            CustomFieldCreate(entity_type="deals", field_name="stage2", field_label="S", field_type="select"),
        )
    with unit_of_work(admin) as session, pytest.raises(ValidationFailed, match="name"):
        cf.update(session, admin, fields["tier"].id, CustomFieldUpdate(field_name="level"))
    with unit_of_work(admin) as session, pytest.raises(Conflict, match="type"):
        cf.update(session, admin, fields["budget"].id, CustomFieldUpdate(field_type="text"))
    with unit_of_work(admin) as session, pytest.raises(Conflict, match="gold"):
        cf.update(session, admin, fields["tier"].id, CustomFieldUpdate(field_options=["silver", "bronze"]))
    with unit_of_work(admin) as session:  # an unused field may change type; an unused option may go
        updated = cf.update(session, admin, fields["industry_code"].id, CustomFieldUpdate(field_label="Code"))
        assert updated.version == 2
        cf.update(session, admin, fields["tier"].id, CustomFieldUpdate(field_options=["gold", "silver", "platinum"]))
        cf.delete_field(session, admin, fields["channels"].id)
    assert owner_rows("SELECT 1 FROM custom_field_values WHERE custom_field_id = :f", f=fields["channels"].id) == []

    stranger = make_tenant()
    with unit_of_work(stranger.admin) as session:
        assert cf.list_fields(session, stranger.admin) == []
        assert cf.field_specs(session, stranger.admin, "contacts", Contact.id) == {}


def test_reading_definitions_needs_the_permission(crm):
    rep = crm.actor(crm.add_user("rep"))
    with unit_of_work(rep) as session:
        assert len(cf.list_fields(session, rep)) == len(FIELDS)
        with pytest.raises(PermissionDenied):
            cf.create(
                session,
                rep,
                CustomFieldCreate(entity_type="contacts", field_name="x", field_label="X", field_type="text"),
            )
        assert session.scalar(select(CustomFieldValue.id).limit(1)) is not None
