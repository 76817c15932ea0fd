"""Accounts: the list (search, filters, selection, bulk actions, create with custom fields, duplicates) and the
detail page (edit, contacts, deals, child accounts), driven as a user would and checked through core/."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from streamlit.testing.v1 import AppTest

from core.accounts import service as accounts
from core.accounts.schemas import AccountCreate
from core.contacts import service as contacts
from core.contacts.schemas import ContactCreate
from core.custom_fields import service as custom_fields
from core.custom_fields.schemas import CustomFieldCreate
from core.db import unit_of_work
from core.deals import service as deals
from core.deals.schemas import DealCreate
from core.demo.service import SeedResult
from core.users import service as users
from tests.factories import TenantWorld
from tests.ui.conftest import as_role, new_app, open_page, shown, sign_in


def open_account(at: AppTest, account_id: object) -> AppTest:
    at.query_params["id"] = str(account_id)
    return open_page(at, "account.py")


def select_rows(at: AppTest, rows: list[int]) -> AppTest:
    """Tick rows of the list's table (AppTest cannot click a dataframe; the selection lives in session state)."""
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    return at.run()


def table_names(at: AppTest) -> list[str]:
    return list(at.dataframe[0].value["Name"]) if at.dataframe else []


def clean(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def make_account(world: TenantWorld, name: str, **fields: object) -> UUID:
    with unit_of_work(world.admin) as session:
        return accounts.create(session, world.admin, AccountCreate(name=name, **fields)).id


def read(world: TenantWorld, account_id: UUID):  # noqa: ANN201
    with unit_of_work(world.admin) as session:
        return accounts.to_read(session, world.admin, accounts.get(session, world.admin, account_id))


def test_every_role_sees_the_list_and_an_account_and_filters_narrow_the_list(demo_workspace: SeedResult) -> None:
    for role in ("admin", "manager", "rep"):
        at = open_page(as_role(demo_workspace, role), "accounts.py")
        clean(at)
        assert "Page 1 of" in shown(at), role
        first = at.dataframe[0].value.iloc[0]
        open_account(at, first["Open"].split("id=")[1])
        clean(at)
        assert first["Name"] in shown(at), role
        assert {"Contacts", "Open deals", "Open pipeline"} <= {m.label for m in at.metric}
        assert f"Owner: {first['Owner']}" in shown(at)

    at = open_page(as_role(demo_workspace, "admin"), "accounts.py")
    frame = at.dataframe[0].value
    target = frame.iloc[5]["Name"]
    at.text_input(key="accounts_search").input(target.split()[0]).run()
    clean(at)
    assert target in table_names(at) and len(table_names(at)) < len(frame)

    at.text_input(key="accounts_search").input("").run()
    industry = at.multiselect(key="accounts_industry").options[0]
    at.multiselect(key="accounts_industry").select(industry).run()
    clean(at)
    assert set(at.dataframe[0].value["Industry"]) == {industry}


def test_a_rep_sees_only_their_own_accounts_and_cannot_open_another(demo_workspace: SeedResult) -> None:
    at = open_page(as_role(demo_workspace, "rep"), "accounts.py")
    clean(at)
    rep_name = at.sidebar.markdown[0].value.strip("*")
    assert set(at.dataframe[0].value["Owner"]) <= {rep_name}
    assert not any(b.key == "accounts_bulk_delete" for b in at.button)
    frame = open_page(as_role(demo_workspace, "admin"), "accounts.py").dataframe[0].value
    theirs = frame[frame["Owner"] != rep_name].iloc[0]
    open_account(at, theirs["Open"].split("id=")[1])
    assert any("Account not found" in e.value for e in at.error)
    assert theirs["Name"] not in shown(at)


def test_create_needs_the_required_custom_field_and_then_stores_it(tenant: TenantWorld) -> None:
    with unit_of_work(tenant.admin) as session:
        custom_fields.create(
            session,
            tenant.admin,
            CustomFieldCreate(
                entity_type="accounts",
                field_name="tier",
                field_label="Tier",
                field_type="select",
                field_options=["Gold", "Silver"],
                is_required=True,
            ),
        )
        custom_fields.create(
            session,
            tenant.admin,
            CustomFieldCreate(
                entity_type="accounts",
                field_name="regions",
                field_label="Regions",
                field_type="multi_select",
                field_options=["EMEA", "APAC", "Americas"],
            ),
        )
    at = open_page(sign_in(new_app(), tenant.slug, tenant.admin_email), "accounts.py")
    assert "No accounts yet" in shown(at)
    at.segmented_control(key="accounts_view").set_value("Add account").run()
    at.text_input(key="ca_name").input("Initech")
    at.text_input(key="ca_website").input("https://initech.example.com")
    at.multiselect(key="ca_cf_regions").select("EMEA").select("APAC")
    next(b for b in at.button if b.label == "Add account").click().run()
    assert any("customFields.tier" in e.value and "required" in e.value for e in at.error)
    with unit_of_work(tenant.admin) as session:
        assert accounts.list_accounts(session, tenant.admin, {}).total == 0

    at.selectbox(key="ca_cf_tier").set_value("Gold")
    at.number_input(key="ca_revenue").set_value(1_500_000.0)
    next(b for b in at.button if b.label == "Add account").click().run()
    clean(at)
    with unit_of_work(tenant.admin) as session:
        page = accounts.list_accounts(session, tenant.admin, {})
    assert page.total == 1
    made = page.items[0]
    assert (made["name"], made["domain"], Decimal(made["annualRevenue"])) == (
        "Initech",
        "initech.example.com",
        1_500_000,
    )
    assert made["customFields"] == {"tier": "Gold", "regions": ["EMEA", "APAC"]}


def test_bulk_tag_assign_and_delete_change_only_the_selected_accounts(tenant: TenantWorld) -> None:
    manager_id = tenant.add_user("manager")
    with unit_of_work(tenant.admin) as session:
        manager_name = users.get(session, tenant.admin, manager_id).full_name
    make_account(tenant, "Zeta", tags=["target"])  # the tag is in use (AppTest cannot type a new option)
    alpha = make_account(tenant, "Alpha", tags=["partner"])
    beta = make_account(tenant, "Beta")
    gamma = make_account(tenant, "Gamma")
    at = open_page(sign_in(new_app(), tenant.slug, tenant.admin_email), "accounts.py")
    at.selectbox(key="accounts_sort").set_value("Name A–Z").run()
    assert table_names(at) == ["Alpha", "Beta", "Gamma", "Zeta"]

    select_rows(at, [0, 1])
    at.selectbox(key="accounts_bulk_tag").set_value("target").run()
    at.button(key="accounts_bulk_tag_go").click().run()
    clean(at)
    assert [t.value for t in at.toast] == ["Tagged “target” on 2 accounts"]
    assert read(tenant, alpha).tags == ["partner", "target"] and read(tenant, beta).tags == ["target"]
    assert read(tenant, gamma).tags == []

    select_rows(at, [1, 2])
    at.selectbox(key="accounts_bulk_owner").set_value(manager_name).run()
    at.button(key="accounts_bulk_owner_go").click().run()
    clean(at)
    assert read(tenant, beta).owner_id == manager_id and read(tenant, gamma).owner_id == manager_id
    assert read(tenant, alpha).owner_id == tenant.admin_id

    select_rows(at, [2])
    assert at.button(key="accounts_bulk_delete").disabled  # nothing goes without the confirmation
    at.checkbox(key="accounts_bulk_sure").check().run()
    at.button(key="accounts_bulk_delete").click().run()
    clean(at)
    assert [t.value for t in at.toast] == ["Deleted 1 account"]
    assert table_names(at) == ["Alpha", "Beta", "Zeta"]
    with unit_of_work(tenant.admin) as session:
        assert accounts.list_accounts(session, tenant.admin, {}).total == 3


def test_the_detail_shows_contacts_deals_and_children_and_edit_saves(tenant: TenantWorld) -> None:
    with unit_of_work(tenant.admin) as session:
        custom_fields.create(
            session,
            tenant.admin,
            CustomFieldCreate(entity_type="accounts", field_name="seats", field_label="Seats", field_type="number"),
        )
    parent = make_account(tenant, "Umbrella Holdings")
    account_id = make_account(tenant, "Umbrella Retail", parent_id=parent, industry="Retail")
    make_account(tenant, "Umbrella Retail East", parent_id=account_id)
    with unit_of_work(tenant.admin) as session:
        contacts.create(
            session, tenant.admin, ContactCreate(first_name="Alice", last_name="Wong", account_id=account_id)
        )
        deals.create(
            session, tenant.admin, DealCreate(name="Umbrella renewal", amount=Decimal(40000), account_id=account_id)
        )
    at = open_account(sign_in(new_app(), tenant.slug, tenant.admin_email), account_id)
    clean(at)
    text = shown(at)
    links = [link.label for link in at.get("page_link")]
    assert "Part of Umbrella Holdings" in links
    assert any(label.startswith("Alice Wong") for label in links)
    assert any(label.startswith("Umbrella renewal") for label in links)
    assert any(label.startswith("Umbrella Retail East") for label in links)
    assert {m.label: m.value for m in at.metric}["Open deals"] == "1"
    assert "Retail" in text

    form = f"ae_{account_id}"
    at.text_input(key=f"{form}_industry").input("Wholesale")
    at.number_input(key=f"{form}_cf_seats").set_value(250)
    next(b for b in at.button if b.label == "Save changes").click().run()
    clean(at)
    saved = read(tenant, account_id)
    assert saved.industry == "Wholesale" and saved.custom_fields == {"seats": 250}
    assert saved.parent_id == parent  # what the form does not show is left alone
    assert "**Seats:** 250" in shown(at)


def test_merging_suggested_duplicate_accounts_leaves_one(tenant: TenantWorld) -> None:
    keep = make_account(tenant, "Hooli", website="https://hooli.example.com")
    make_account(tenant, "Hooli Inc", website="hooli.example.com", industry="Tech")
    at = open_page(sign_in(new_app(), tenant.slug, tenant.admin_email), "accounts.py")
    at.segmented_control(key="accounts_view").set_value("Duplicates").run()
    clean(at)
    assert "same domain" in shown(at)
    radio = next(r for r in at.radio if r.key and r.key.startswith("accounts_merge_"))
    radio.set_value(next(o for o in radio.options if o.endswith(str(keep)[-6:])))
    at.button(key=radio.key.removesuffix("_keep")).click().run()
    clean(at)
    with unit_of_work(tenant.admin) as session:
        left = accounts.list_accounts(session, tenant.admin, {})
    assert [a["id"] for a in left.items] == [str(keep)]
    assert left.items[0]["industry"] == "Tech"
