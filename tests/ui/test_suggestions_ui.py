"""Suggestions where a rep sees them (`app.ui.suggestions.for_record`, the panel of the contact and account
pages) under AppTest: each suggestion with its change, reason, confidence and source; Accept writes the record,
Reject removes it, a suggestion whose field changed since is marked stale and cannot be accepted; a role without
`insights:read` sees no panel."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from streamlit.testing.v1 import AppTest

from ai.insights import enrichment
from core.actor import Actor
from core.contacts import service as contacts
from core.contacts.schemas import ContactCreate, ContactUpdate
from core.db import unit_of_work
from core.suggestions import service as suggestions
from tests.factories import create_tenant, quiesce
from tests.ui.conftest import shown


def panel(actor, entity_type, entity_id):  # noqa: ANN001, ANN201  (run as a script: no annotations to resolve)
    from app.ui.suggestions import for_record

    for_record(actor, entity_type, entity_id)


def run_panel(actor: Actor, contact_id: UUID) -> AppTest:
    at = AppTest.from_function(panel, args=(actor, "contacts", contact_id), default_timeout=30).run()
    assert not at.exception, at.exception
    return at


@pytest.fixture(scope="module")
def world() -> Iterator[dict[str, Any]]:
    tenant = create_tenant()
    admin = tenant.admin
    with unit_of_work(admin) as session:
        contact = contacts.create(
            session,
            admin,
            ContactCreate(
                first_name="Ui",
                last_name="Lead",
                title="Senior Software Engineer",
                phone="(206) 555-0100",
                address_state="WA",
                company="hooli inc",
            ),
        )
    system = Actor.system(tenant.tenant_id)
    with unit_of_work(system) as session:
        enrichment.enrich(session, system, "contacts", [contact.id])
    with unit_of_work(admin) as session:
        found = {s.field: s for s in suggestions.list_for_record(session, admin, "contacts", contact.id)}
    yield {"tenant": tenant, "admin": admin, "contact": contact.id, "found": found}
    quiesce(tenant.tenant_id)


def test_the_panel_lists_each_change_with_its_reason_confidence_and_source(world: dict[str, Any]) -> None:
    at = run_panel(world["admin"], world["contact"])
    text = shown(at)
    assert "**Suggestions**" in text
    assert "(206) 555-0100 → **+12065550100 (United States)**" in text
    assert "written in international format (E.164)" in text and "rule phone e164" in text
    assert "empty → **United States**" in text and "The address is in WA" in text
    assert "hooli inc → **Hooli**" in text
    assert "% sure" in text and "empty → **Individual contributor**" in text


def test_accept_writes_the_record_and_reject_removes_the_suggestion(world: dict[str, Any]) -> None:
    found, admin = world["found"], world["admin"]
    at = run_panel(admin, world["contact"])
    at.button(key=f"sg_accept_{found['phone'].id}").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    with unit_of_work(admin) as session:
        assert contacts.get(session, admin, world["contact"]).phone == "+12065550100"
    assert "+12065550100 (United States)" not in shown(at)
    at.button(key=f"sg_reject_{found['seniority'].id}").click().run()
    assert not at.error
    assert "Individual contributor" not in shown(at)  # the seniority suggestion is gone
    with unit_of_work(admin) as session:
        decided = suggestions.list_for_record(session, admin, "contacts", world["contact"], include_decided=True)
    assert {s.field: s.status for s in decided if s.status != "open"} == {"phone": "accepted", "seniority": "rejected"}


def test_a_changed_field_shows_its_suggestion_as_stale_with_accept_disabled(world: dict[str, Any]) -> None:
    admin = world["admin"]
    with unit_of_work(admin) as session:
        contacts.update(session, admin, world["contact"], ContactUpdate(company="Hooli XYZ"))
    at = run_panel(admin, world["contact"])
    assert "Stale: the field changed since this was suggested." in shown(at)
    assert at.button(key=f"sg_accept_{world['found']['company'].id}").disabled


def test_a_role_without_insights_sees_no_panel(world: dict[str, Any]) -> None:
    tenant = world["tenant"]
    reader = tenant.actor(tenant.add_user("read_only"))
    at = run_panel(reader, world["contact"])
    assert "Suggestions" not in shown(at) and not at.button
