"""Deal detail: header and stage history for every role, edits (custom fields included) saved through core
with core's validation messages, a stale edit explained and refused, quick adds, and ids that lead nowhere."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest

from core.custom_fields import service as custom_fields
from core.custom_fields.schemas import CustomFieldCreate
from core.db import unit_of_work
from core.deals import service as deals
from core.deals.schemas import DealCreate, DealPatch
from core.demo.service import SeedResult
from core.notes import service as notes
from core.pipelines import service as pipelines
from core.rbac import service as rbac
from core.rbac.schemas import RoleCreate
from core.tasks import service as tasks
from core.users import service as users
from tests.factories import TenantWorld
from tests.ui.conftest import as_role, new_app, open_page, shown, sign_in


def _open(at, deal_id):
    at.query_params["id"] = str(deal_id)
    return open_page(at, "deal.py")


def _read(actor, deal_id):
    with unit_of_work(actor) as session:
        return deals.to_read(session, actor, deals.get(session, actor, deal_id))


def _save(at):
    next(b for b in at.button if b.label == "Save changes").click().run()
    return at


def _input(at, prefix: str):
    """The edit form's text input whose key starts with `prefix` (keys carry the version being edited)."""
    return next(t for t in at.text_input if str(t.key).startswith(prefix))


@pytest.fixture
def opened(tenant: TenantWorld):
    admin = tenant.admin
    with unit_of_work(admin) as session:
        deal = deals.create(session, admin, DealCreate(name="Orion expansion", amount=Decimal("25000")))
        proposal = next(
            s
            for s in pipelines.stages_by_pipeline(session, admin, [deal.pipeline_id])[deal.pipeline_id]
            if s.name == "Proposal"
        )
        deals.move_stage(session, admin, deal.id, proposal.id)
        deal_id = deal.id
    at = _open(sign_in(new_app(), tenant.slug, tenant.admin_email), deal_id)
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at, deal_id


def test_every_role_sees_a_demo_deal_with_its_stage_history(demo_workspace: SeedResult) -> None:
    for role in ("admin", "manager", "rep"):
        at = as_role(demo_workspace, role)
        actor = at.session_state["cf_actor"]
        with unit_of_work(actor) as session:
            listed = deals.list_deals(session, actor, {"limit": ["1"], "sort": ["-amount"]})
            if not listed.items:
                continue
            deal_id = listed.items[0]["id"]
            history = deals.stage_history(session, actor, deal_id)
        at = _open(at, deal_id)
        assert not at.exception, role
        assert not at.error, [e.value for e in at.error]
        text = shown(at)
        assert listed.items[0]["name"] in text
        assert all(f"**{h.to_stage_name}**" in text for h in history), role


def test_the_header_and_history_show_the_deal(tenant: TenantWorld, opened) -> None:
    at, _ = opened
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Amount"], metrics["Stage"], metrics["Probability"]) == ("$25k", "Proposal", "50%")
    text = shown(at)
    assert "**Proposal** (from Prospecting)" in text and "**Prospecting** (created)" in text


def test_edit_saves_and_core_validation_is_shown_with_nothing_changed(tenant: TenantWorld, opened) -> None:
    at, deal_id = opened
    admin = tenant.admin
    with unit_of_work(admin) as session:
        custom_fields.create(
            session,
            admin,
            CustomFieldCreate(
                entity_type="deals", field_name="region", field_label="Region", field_type="text", is_required=True
            ),
        )
    at.run()
    _input(at, "de_name_").input("Orion expansion (EU)")
    _input(at, "de_currency_").input("XYZ")
    _save(at)
    assert at.error and "currency" in at.error[0].value.lower()
    assert _read(admin, deal_id).name == "Orion expansion"

    _input(at, "de_currency_").input("EUR")
    _save(at)
    assert any("region" in e.value and "required" in e.value for e in at.error)
    assert _read(admin, deal_id).currency == "USD"

    _input(at, "de_cf_region_").input("EMEA")
    _save(at)
    assert not at.error, [e.value for e in at.error]
    saved = _read(admin, deal_id)
    assert (saved.name, saved.currency, saved.custom_fields) == ("Orion expansion (EU)", "EUR", {"region": "EMEA"})
    assert _input(at, "de_name_").value == "Orion expansion (EU)"  # the form shows the saved deal
    _input(at, "de_name_").input("Orion expansion (EMEA)")
    _save(at)  # a second save right after the first is not taken for someone else's change
    assert not at.warning and _read(admin, deal_id).name == "Orion expansion (EMEA)"


def test_a_stale_edit_is_explained_and_changes_nothing(tenant: TenantWorld, opened) -> None:
    at, deal_id = opened
    admin = tenant.admin
    with unit_of_work(admin) as session:
        deals.update(session, admin, deal_id, DealPatch(name="Renamed by a colleague"))
    _input(at, "de_name_").input("My name")
    _save(at)
    assert any("Someone else changed this deal" in w.value for w in at.warning)
    assert _read(admin, deal_id).name == "Renamed by a colleague"
    next(b for b in at.button if b.label == "Reload").click().run()
    assert _input(at, "de_name_").value == "Renamed by a colleague"


def test_a_note_an_activity_and_a_task_are_added_to_the_deal(tenant: TenantWorld, opened) -> None:
    at, deal_id = opened
    admin = tenant.admin
    at.text_area(key="dn_body").input("Champion is the CFO")
    next(b for b in at.button if b.label == "Add note").click().run()
    at.text_input(key="da_subject").input("Pricing call")
    next(b for b in at.button if b.label == "Log activity").click().run()
    at.text_input(key="dt_title").input("Send the revised quote")
    next(b for b in at.button if b.label == "Add task").click().run()
    assert not at.error, [e.value for e in at.error]
    with unit_of_work(admin) as session:
        assert [n["body"] for n in notes.list_notes(session, admin, "deals", deal_id, {}).items] == [
            "Champion is the CFO"
        ]
        assert [t["title"] for t in tasks.list_tasks(session, admin, {}, parent=("deals", deal_id)).items] == [
            "Send the revised quote"
        ]
    text = shown(at)
    assert "Champion is the CFO" in text and "Pricing call" in text and "Send the revised quote" in text


def test_an_unknown_a_malformed_or_an_unreadable_id_gets_a_message(tenant: TenantWorld, opened) -> None:
    _, deal_id = opened
    at = _open(sign_in(new_app(), tenant.slug, tenant.admin_email), "not-a-uuid")
    assert not at.exception and "not a deal's id" in at.error[0].value
    at = _open(at, uuid4())
    assert not at.exception and at.error[0].value == "Deal not found"
    rep = tenant.add_user("rep")
    with unit_of_work(tenant.admin) as session:
        email = users.get(session, tenant.admin, rep).email
    at = _open(sign_in(new_app(), tenant.slug, email), deal_id)  # the admin's deal, out of the rep's scope
    assert not at.exception and at.error[0].value == "Deal not found"
    assert "Orion" not in shown(at).replace("Deal not found", "")


def test_a_read_only_user_looks_without_changing_and_a_role_without_deals_is_refused(
    tenant: TenantWorld, opened
) -> None:
    _, deal_id = opened
    with unit_of_work(tenant.admin) as session:
        rbac.create(session, tenant.admin, RoleCreate(name="scheduler", permissions=["tasks:read"]))
    viewer, scheduler = tenant.add_user("read_only"), tenant.add_user("scheduler")
    with unit_of_work(tenant.admin) as session:
        viewer_email = users.get(session, tenant.admin, viewer).email
        scheduler_email = users.get(session, tenant.admin, scheduler).email
    at = _open(sign_in(new_app(), tenant.slug, viewer_email), deal_id)
    assert not at.exception and not at.error and "Orion expansion" in shown(at)
    assert not [b for b in at.button if b.label in ("Save changes", "Add note", "Log activity", "Add task")]
    assert "can read this deal but not change it" in shown(at)
    at = open_page(sign_in(new_app(), tenant.slug, viewer_email), "pipeline.py")
    assert not at.exception and not at.error
    assert not [b for b in at.button if b.label in ("Move", "Mark won", "Mark lost")]
    at = sign_in(new_app(), tenant.slug, scheduler_email)
    for page in ("pipeline.py", "deal.py"):
        with pytest.raises(Exception):  # noqa: B017 - AppTest refuses a page that is not registered
            open_page(at, page)


def test_an_open_deal_whose_close_date_passed_says_so(tenant: TenantWorld) -> None:
    from datetime import date, timedelta

    with unit_of_work(tenant.admin) as session:
        late = deals.create(
            session,
            tenant.admin,
            DealCreate(name="Late", amount=Decimal(100), expected_close_date=date.today() - timedelta(days=30)),
        ).id
        on_time = deals.create(
            session,
            tenant.admin,
            DealCreate(name="On time", amount=Decimal(100), expected_close_date=date.today() + timedelta(days=30)),
        ).id
    at = _open(sign_in(new_app(), tenant.slug, tenant.admin_email), late)
    assert "· passed" in shown(at)
    at = _open(at, on_time)
    assert "· passed" not in shown(at)


def test_the_owner_sets_the_deals_forecast_category(tenant: TenantWorld, opened) -> None:
    at, deal_id = opened
    box = next(b for b in at.selectbox if b.label == "Forecast category")
    assert box.value == "derived"  # until someone decides
    box.select("commit").run()
    assert not at.error, [e.value for e in at.error]
    with unit_of_work(tenant.admin) as session:
        assert deals.get(session, tenant.admin, deal_id).forecast_category == "commit"
    next(b for b in at.selectbox if b.label == "Forecast category").select("derived").run()
    with unit_of_work(tenant.admin) as session:
        assert deals.get(session, tenant.admin, deal_id).forecast_category is None
