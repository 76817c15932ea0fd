"""Contacts: the list (search, filters, selection, bulk actions, create with custom fields, duplicates) and the
detail page (edit, timeline, convert), driven as a user would and checked through core/."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import UUID

import pytest
from streamlit.testing.v1 import AppTest

from core.accounts import service as accounts
from core.accounts.schemas import AccountCreate
from core.activities import service as activities
from core.contacts import service as contacts
from core.contacts.schemas import ContactCreate, ContactUpdate
from core.custom_fields import service as custom_fields
from core.custom_fields.schemas import CustomFieldCreate
from core.db import unit_of_work
from core.deals import service as deals
from core.demo.service import SeedResult
from core.rbac import service as rbac
from core.rbac.schemas import RoleCreate
from core.users import service as users
from tests.factories import TenantWorld
from tests.ui.conftest import as_role, new_app, open_page, shown, sign_in


def open_contact(at: AppTest, contact_id: object) -> AppTest:
    at.query_params["id"] = str(contact_id)
    return open_page(at, "contact.py")


def select_rows(at: AppTest, rows: list[int]) -> AppTest:
    """Tick rows of the list's table (AppTest cannot click a dataframe; the selection lives in session state)."""
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    return at.run()


def table_names(at: AppTest) -> list[str]:
    return list(at.dataframe[0].value["Name"]) if at.dataframe else []


def clean(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def make_contact(world: TenantWorld, **fields: object) -> UUID:
    with unit_of_work(world.admin) as session:
        return contacts.create(session, world.admin, ContactCreate(**{"first_name": "Ada", **fields})).id


def read(world: TenantWorld, contact_id: UUID):  # noqa: ANN201
    with unit_of_work(world.admin) as session:
        return contacts.to_read(session, world.admin, contacts.get(session, world.admin, contact_id))


def test_every_role_sees_the_list_and_a_contact_and_search_narrows_the_list(demo_workspace: SeedResult) -> None:
    for role in ("admin", "manager", "rep"):
        at = open_page(as_role(demo_workspace, role), "contacts.py")
        clean(at)
        assert "Page 1 of" in shown(at), role
        first = at.dataframe[0].value.iloc[0]
        contact_id = first["Open"].split("id=")[1]
        open_contact(at, contact_id)
        clean(at)
        assert first["Name"] in shown(at), role
        assert {"Lead status", "Lifecycle stage", "Lead score"} <= {m.label for m in at.metric}
        assert f"Owner: {first['Owner']}" in shown(at)

    at = open_page(as_role(demo_workspace, "admin"), "contacts.py")
    everyone = table_names(at)
    first_page = list(at.dataframe[0].value["Open"])
    at.button(key="contacts_next").click().run()
    assert "Page 2 of" in shown(at) and not set(at.dataframe[0].value["Open"]) & set(first_page)
    at.button(key="contacts_prev").click().run()
    assert list(at.dataframe[0].value["Open"]) == first_page
    target = everyone[3]
    at.text_input(key="contacts_search").input(target).run()
    clean(at)
    names = table_names(at)
    assert target in names and len(names) < len(everyone)
    assert all(target.split()[-1].lower() in n.lower() for n in names)


def test_a_rep_sees_only_their_own_contacts_and_cannot_open_another(demo_workspace: SeedResult) -> None:
    at = open_page(as_role(demo_workspace, "rep"), "contacts.py")
    clean(at)
    rep_name = at.sidebar.markdown[0].value.strip("*")
    owners = set(at.dataframe[0].value["Owner"])
    assert owners == {rep_name}
    assert not any(w.key == "contacts_owner" for w in at.multiselect)  # nothing to filter by owner
    assert not any(b.key == "contacts_bulk_delete" for b in at.button)

    admin_at = open_page(as_role(demo_workspace, "admin"), "contacts.py")
    frame = admin_at.dataframe[0].value
    theirs = frame[frame["Owner"] != rep_name].iloc[0]
    open_contact(at, theirs["Open"].split("id=")[1])
    assert any("Contact not found" in e.value for e in at.error)
    assert theirs["Name"] not in shown(at)
    open_contact(at, "not-an-id")
    assert not at.exception and "Open a contact from the list" in shown(at)


def test_a_missing_required_custom_field_is_explained_and_creates_nothing(tenant: TenantWorld) -> None:
    with unit_of_work(tenant.admin) as session:
        custom_fields.create(
            session,
            tenant.admin,
            CustomFieldCreate(
                entity_type="contacts",
                field_name="region",
                field_label="Region",
                field_type="select",
                field_options=["EMEA", "Americas"],
                is_required=True,
            ),
        )
        custom_fields.create(
            session,
            tenant.admin,
            CustomFieldCreate(entity_type="contacts", field_name="seats", field_label="Seats", field_type="number"),
        )
    at = open_page(sign_in(new_app(), tenant.slug, tenant.admin_email), "contacts.py")
    at.segmented_control(key="contacts_view").set_value("Add contact").run()
    at.text_input(key="cc_first").input("Grace")
    at.text_input(key="cc_last").input("Hopper")
    at.number_input(key="cc_cf_seats").set_value(12)
    next(b for b in at.button if b.label == "Add contact").click().run()
    assert any("customFields.region" in e.value and "required" in e.value for e in at.error)
    with unit_of_work(tenant.admin) as session:
        assert contacts.list_contacts(session, tenant.admin, {}).total == 0

    assert at.text_input(key="cc_first").value == "Grace"  # the form kept what was typed
    at.selectbox(key="cc_cf_region").set_value("EMEA")
    next(b for b in at.button if b.label == "Add contact").click().run()
    clean(at)
    with unit_of_work(tenant.admin) as session:
        page = contacts.list_contacts(session, tenant.admin, {})
    assert page.total == 1
    made = page.items[0]
    assert (made["firstName"], made["lastName"]) == ("Grace", "Hopper")
    assert made["customFields"] == {"region": "EMEA", "seats": 12}
    assert "Open Grace Hopper" in [link.label for link in at.get("page_link")]


def test_bulk_tag_and_assign_change_only_the_selected_contacts(tenant: TenantWorld) -> None:
    rep_id = tenant.add_user("rep")
    with unit_of_work(tenant.admin) as session:
        rep_name = users.get(session, tenant.admin, rep_id).full_name
    make_contact(tenant, last_name="Vip", tags=["vip"])  # a tag in use (AppTest cannot type a new option)
    oldest = make_contact(tenant, last_name="Oldest", tags=["event"])
    middle = make_contact(tenant, last_name="Middle")
    newest = make_contact(tenant, last_name="Newest")
    at = open_page(sign_in(new_app(), tenant.slug, tenant.admin_email), "contacts.py")
    assert table_names(at) == ["Ada Newest", "Ada Middle", "Ada Oldest", "Ada Vip"]

    select_rows(at, [1, 2])
    assert "2 selected" in shown(at)
    at.selectbox(key="contacts_bulk_tag").set_value("vip").run()
    at.button(key="contacts_bulk_tag_go").click().run()
    clean(at)
    assert [t.value for t in at.toast] == ["Tagged “vip” on 2 contacts"]
    assert read(tenant, oldest).tags == ["event", "vip"]  # the tag is added, the others kept
    assert read(tenant, middle).tags == ["vip"]
    assert read(tenant, newest).tags == []
    assert "selected" not in shown(at)  # the selection starts afresh after the action

    select_rows(at, [0, 1])
    at.selectbox(key="contacts_bulk_owner").set_value(rep_name).run()
    at.button(key="contacts_bulk_owner_go").click().run()
    clean(at)
    assert [t.value for t in at.toast] == [f"Assigned to {rep_name}: 2 contacts"]
    assert read(tenant, newest).owner_id == rep_id and read(tenant, middle).owner_id == rep_id
    assert read(tenant, oldest).owner_id == tenant.admin_id

    select_rows(at, [0, 1])  # then someone deletes one of them: the page changed, nothing stays selected
    with unit_of_work(tenant.admin) as session:
        contacts.delete(session, tenant.admin, newest)
    at.run()
    assert "selected" not in shown(at)

    full = make_contact(tenant, last_name="Full", tags=[f"t{i}" for i in range(20)])  # no room for a tag
    at.run()
    select_rows(at, [0, 1])  # Full and Middle
    at.selectbox(key="contacts_bulk_tag").set_value("event").run()
    at.button(key="contacts_bulk_tag_go").click().run()
    assert [t.value for t in at.toast] == ["Tagged “event” on 1 contact; 1 failed"]
    assert len(at.warning) == 1 and at.warning[0].value.startswith("Not changed:\n- Ada Full: Invalid data")
    assert read(tenant, middle).tags == ["vip", "event"] and len(read(tenant, full).tags) == 20


def test_edit_saves_and_a_stale_version_is_refused(tenant: TenantWorld) -> None:
    contact_id = make_contact(tenant, last_name="Byron", email="ada@example.com")
    with unit_of_work(tenant.admin) as session:
        account_id = accounts.create(session, tenant.admin, AccountCreate(name="Analytical Society")).id
    at = open_contact(sign_in(new_app(), tenant.slug, tenant.admin_email), contact_id)
    clean(at)
    form = f"ce_{contact_id}"
    at.text_input(key=f"{form}_account_q").input("Analytical").run()
    at.text_input(key=f"{form}_title").input("Countess")
    at.selectbox(key=f"{form}_status").set_value("qualified")
    next(b for b in at.button if b.label == "Save changes").click().run()
    clean(at)
    saved = read(tenant, contact_id)
    assert (saved.title, saved.lead_status, saved.account_id) == ("Countess", "qualified", account_id)
    assert "Account: Analytical Society" in [link.label for link in at.get("page_link")]
    assert "Countess" in shown(at)

    with unit_of_work(tenant.admin) as session:  # someone else changes it meanwhile
        contacts.update(session, tenant.admin, contact_id, ContactUpdate(department="Maths"))
    at.text_input(key=f"{form}_title").input("Analyst")
    next(b for b in at.button if b.label == "Save changes").click().run()
    assert any("changed by someone else" in e.value for e in at.error)
    assert read(tenant, contact_id).title == "Countess"
    at.button(key=f"{form}_reload").click().run()
    assert at.text_input(key=f"{form}_department").value == "Maths"


def test_notes_and_activities_appear_in_the_timeline_newest_first(tenant: TenantWorld) -> None:
    contact_id = make_contact(tenant, last_name="Timeline")
    at = open_contact(sign_in(new_app(), tenant.slug, tenant.admin_email), contact_id)
    form = f"ce_{contact_id}"
    at.text_area(key=f"{form}_note_body").input("Wants a demo in March")
    next(b for b in at.button if b.label == "Add note").click().run()
    clean(at)
    at.segmented_control(key=f"{form}_add").set_value("Activity").run()
    at.radio(key=f"{form}_act_type").set_value("call")
    at.text_input(key=f"{form}_act_subject").input("Discovery call")
    at.selectbox(key=f"{form}_act_direction").set_value("outbound")
    at.text_input(key=f"{form}_act_outcome").input("connected")
    at.number_input(key=f"{form}_act_minutes").set_value(25)
    at.date_input(key=f"{form}_act_day").set_value(date.today() - timedelta(days=1))
    next(b for b in at.button if b.label == "Log activity").click().run()
    clean(at)
    assert "Wants a demo in March" in "\n".join(t.value for t in at.text)
    assert "outbound · connected · 25 min" in shown(at)
    heads = [m.value for m in at.markdown]
    note_at = next(i for i, v in enumerate(heads) if "**Note**" in v)
    call_at = next(i for i, v in enumerate(heads) if "**Call** · Discovery call" in v)
    assert note_at < call_at  # the note (just now) before the call (logged for yesterday)
    with unit_of_work(tenant.admin) as session:
        items = activities.list_activities(session, tenant.admin, {}, parent=("contacts", contact_id)).items
    assert [(a["type"], a["durationSeconds"], a["direction"]) for a in items] == [("call", 1500, "outbound")]


def test_convert_creates_the_deal_and_the_account_and_links_to_the_deal(tenant: TenantWorld) -> None:
    contact_id = make_contact(
        tenant, last_name="Lead", email="ada@analytical-engines.com", company="Analytical Engines"
    )
    at = open_contact(sign_in(new_app(), tenant.slug, tenant.admin_email), contact_id)
    form = f"ce_{contact_id}"
    at.number_input(key=f"{form}_deal_amount").set_value(25000.0)
    next(b for b in at.button if b.label == "Convert to deal").click().run()
    clean(at)
    with unit_of_work(tenant.admin) as session:
        found = deals.list_deals(session, tenant.admin, {"contactId": [str(contact_id)]})
    assert found.total == 1
    deal = found.items[0]
    assert deal["name"] == "Analytical Engines" and float(deal["amount"]) == 25000.0
    converted = read(tenant, contact_id)
    assert converted.lifecycle_stage == "opportunity" and converted.account_id is not None
    assert "Converted to the deal Analytical Engines (new account Analytical Engines)" in shown(at)


def test_merging_a_suggested_duplicate_pair_leaves_one_contact(tenant: TenantWorld) -> None:
    keep = make_contact(tenant, last_name="Twice", email="twice@example.com", phone="+1 555 0100")
    gone = make_contact(tenant, last_name="Twice", email="twice@example.com", title="CTO")
    at = open_page(sign_in(new_app(), tenant.slug, tenant.admin_email), "contacts.py")
    at.segmented_control(key="contacts_view").set_value("Duplicates").run()
    clean(at)
    assert "same email" in shown(at)
    radio = next(r for r in at.radio if r.key and r.key.startswith("contacts_merge_"))
    radio.set_value(next(o for o in radio.options if o.endswith(str(keep)[-6:])))
    at.button(key=radio.key.removesuffix("_keep")).click().run()
    clean(at)
    with unit_of_work(tenant.admin) as session:
        left = contacts.list_contacts(session, tenant.admin, {})
    assert [c["id"] for c in left.items] == [str(keep)]
    assert left.items[0]["title"] == "CTO"  # the survivor took what it lacked
    assert str(gone) not in shown(at)
    assert "No likely duplicate contacts found." in shown(at)


def test_a_read_only_user_looks_without_changing_and_a_role_without_contacts_is_refused(tenant: TenantWorld) -> None:
    contact_id = make_contact(tenant, last_name="Lookup")
    with unit_of_work(tenant.admin) as session:
        rbac.create(session, tenant.admin, RoleCreate(name="scheduler", permissions=["tasks:read"]))
    viewer, scheduler = tenant.add_user("read_only"), tenant.add_user("scheduler")
    with unit_of_work(tenant.admin) as session:
        viewer_email = users.get(session, tenant.admin, viewer).email
        scheduler_email = users.get(session, tenant.admin, scheduler).email

    at = open_page(sign_in(new_app(), tenant.slug, viewer_email), "contacts.py")
    clean(at)
    assert at.segmented_control(key="contacts_view").options == ["All contacts", "Duplicates"]
    select_rows(at, [0])
    assert "1 selected" in shown(at)
    assert not any(b.key and b.key.startswith("contacts_bulk") for b in at.button)
    open_contact(at, contact_id)
    clean(at)
    assert "Ada Lookup" in shown(at)
    assert not [b for b in at.button if b.label in ("Save changes", "Add note", "Log activity", "Convert to deal")]

    at = sign_in(new_app(), tenant.slug, scheduler_email)
    for page in ("contacts.py", "contact.py"):
        with pytest.raises(Exception):  # noqa: B017 - AppTest refuses a page that is not registered
            open_page(at, page)


def test_a_long_timeline_shows_the_pinned_note_first_then_the_latest_and_more_on_request(tenant: TenantWorld) -> None:
    from datetime import UTC, datetime

    from core.activities.schemas import ActivityCreate
    from core.notes import service as notes
    from core.notes.schemas import NoteCreate

    contact_id = make_contact(tenant, last_name="Busy")
    start = datetime(2026, 1, 1, 9, tzinfo=UTC)
    with unit_of_work(tenant.admin) as session:
        notes.create(session, tenant.admin, "contacts", contact_id, NoteCreate(body="Key fact", is_pinned=True))
    with unit_of_work(tenant.admin) as session:
        notes.create(session, tenant.admin, "contacts", contact_id, NoteCreate(body="Later note"))
        for day in range(25):
            activities.create(
                session,
                tenant.admin,
                ActivityCreate(
                    type="call",
                    subject=f"Call {day:02d}",
                    contact_id=contact_id,
                    occurred_at=start + timedelta(days=day),
                ),
            )
    at = open_contact(sign_in(new_app(), tenant.slug, tenant.admin_email), contact_id)
    clean(at)

    def heads() -> list[str]:
        return [m.value for m in at.markdown if "**Note**" in m.value or "**Call**" in m.value]

    first = heads()
    assert len(first) == 10 and "**Note** · pinned" in first[0]  # on top, though the other note is newer
    assert first[1].endswith("**Note**") and "Call 24" in first[2] and "Call 17" in first[-1]
    for shown_after in (20, 27):
        next(b for b in at.button if b.label == "Show more").click().run()
        clean(at)
        assert len(heads()) == shown_after
    assert "Call 00" in heads()[-1]
    assert not [b for b in at.button if b.label == "Show more"]
