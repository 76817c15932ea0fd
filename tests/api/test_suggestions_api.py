"""Field suggestions over the API: `GET /suggestions?entityType=&entityId=`, `POST /suggestions/{id}/accept` and
`/reject`: anonymous 401, no `insights:read` 403, another workspace's or out-of-scope record 404, and what a
client sees: the suggestions with their reasons, an accepted value written to the record (new version), a stale
suggestion refused with 409 and the field left as the user set it, a rejected one gone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from fastapi import Depends, FastAPI

from ai.insights import enrichment
from core.actor import Actor
from core.contacts import service as contacts
from core.contacts.schemas import ContactCreate
from core.db import unit_of_work
from tests.api.conftest import (
    API,
    assert_error,
    assert_success,
    login_headers,
    make_client,
    user_email,
)
from tests.factories import create_tenant, quiesce


@pytest.fixture(scope="module")
def app(api_app: FastAPI) -> FastAPI:
    """The session's app, with the suggestions router added as api/main.py registers it (until it does)."""
    from api.deps import limit_by_ip
    from api.main import API_PREFIX, _include_flat
    from api.routers import suggestions

    if not any(getattr(r, "path", "") == f"{API_PREFIX}/suggestions" for r in api_app.routes):
        _include_flat(api_app, suggestions.router, prefix=API_PREFIX, dependencies=[Depends(limit_by_ip)])
        api_app.openapi_schema = None
    return api_app


@pytest.fixture(scope="module")
def world(app: FastAPI, shop_admin: dict[str, str]) -> Iterator[dict[str, Any]]:
    tenant = create_tenant()
    admin = tenant.admin
    with unit_of_work(admin) as session:
        contact = contacts.create(
            session,
            admin,
            ContactCreate(
                first_name="Api",
                last_name="Lead",
                title="Head of Product",
                phone="(312) 555-0142",
                address_country="US",
                company="INITECH LLC",
            ),
        )
        contact_id = contact.id
    system = Actor.system(tenant.tenant_id)
    with unit_of_work(system) as session:
        enrichment.enrich(session, system, "contacts", [contact_id])
    client = make_client(app)
    yield {
        "tenant": tenant,
        "contact": contact_id,
        "client": client,
        "admin": login_headers(client, tenant.admin_email, tenant.slug),
        "reader": login_headers(client, user_email(tenant, "read_only"), tenant.slug),
        "rep": login_headers(client, user_email(tenant, "rep"), tenant.slug),
        "stranger": shop_admin,  # another workspace's admin
    }
    quiesce(tenant.tenant_id)


def listed(world: dict[str, Any], headers: str = "admin", **params: Any) -> Any:
    query = {"entityType": "contacts", "entityId": str(world["contact"]), **params}
    return world["client"].get(f"{API}/suggestions", params=query, headers=world[headers])


def by_field(world: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["field"]: s for s in assert_success(listed(world))}


def test_listing_needs_a_sign_in_the_insights_permission_and_a_visible_record(world: dict[str, Any]) -> None:
    client = world["client"]
    assert_error(
        client.get(f"{API}/suggestions", params={"entityType": "contacts", "entityId": str(world["contact"])}), 401
    )
    assert_error(listed(world, "reader"), 403, "FORBIDDEN")
    assert_error(listed(world, "stranger"), 404)
    assert_error(listed(world, "rep"), 404)  # own scope: the admin's contact
    assert_error(listed(world, entityType="deals"), 400)


def test_a_client_sees_each_suggestion_with_its_values_confidence_reason_and_source(world: dict[str, Any]) -> None:
    found = by_field(world)
    phone = found["phone"]
    assert phone["currentValue"] == "(312) 555-0142" and phone["suggestedValue"] == "+13125550142"
    assert phone["fieldLabel"] == "Phone" and phone["source"] == "rule:phone_e164"
    assert "E.164" in phone["reason"] and 0 < float(phone["confidence"]) <= 1
    assert phone["status"] == "open" and phone["stale"] is False
    assert found["address_country"]["suggestedValue"] == "United States"
    assert found["seniority"]["suggestedValue"] == "Director" and found["department"]["suggestedValue"] == "Product"
    assert found["company"]["suggestedValue"] == "Initech"


def test_accept_writes_the_record_and_refuses_a_second_decision_or_a_stale_version(world: dict[str, Any]) -> None:
    client, admin = world["client"], world["admin"]
    phone = by_field(world)["phone"]
    url = f"{API}/suggestions/{phone['id']}/accept"
    assert_error(client.post(url), 401)
    assert_error(client.post(url, headers=world["reader"]), 403)
    assert_error(client.post(url, headers=world["stranger"]), 404)
    record = assert_success(client.get(f"{API}/contacts/{world['contact']}", headers=admin))
    assert_error(client.post(url, json={"version": record["version"] + 3}, headers=admin), 409, "VERSION_CONFLICT")
    decided = assert_success(client.post(url, json={"version": record["version"]}, headers=admin))
    assert decided["suggestion"]["status"] == "accepted" and decided["suggestion"]["decidedAt"]
    assert decided["record"]["phone"] == "+13125550142" and decided["record"]["version"] == record["version"] + 1
    after = assert_success(client.get(f"{API}/contacts/{world['contact']}", headers=admin))
    assert after["phone"] == "+13125550142"
    assert_error(client.post(url, headers=admin), 409, "SUGGESTION_DECIDED")
    assert "phone" not in by_field(world)
    history = assert_success(listed(world, includeDecided="true"))
    assert [s["status"] for s in history if s["field"] == "phone"] == ["accepted"]


def test_a_field_changed_since_makes_the_suggestion_stale_and_accepting_it_a_409(world: dict[str, Any]) -> None:
    client, admin = world["client"], world["admin"]
    company = by_field(world)["company"]
    record = assert_success(client.get(f"{API}/contacts/{world['contact']}", headers=admin))
    assert_success(
        client.patch(
            f"{API}/contacts/{world['contact']}",
            json={"company": "Initech Holdings", "version": record["version"]},
            headers=admin,
        )
    )
    assert by_field(world)["company"]["stale"] is True
    error = assert_error(
        client.post(f"{API}/suggestions/{company['id']}/accept", headers=admin), 409, "SUGGESTION_STALE"
    )
    assert "changed since this suggestion was made" in error["message"] and "Initech Holdings" in error["message"]
    assert error["details"]["valueWhenSuggested"] == "INITECH LLC"
    after = assert_success(client.get(f"{API}/contacts/{world['contact']}", headers=admin))
    assert after["company"] == "Initech Holdings"


def test_reject_records_the_decision_and_the_suggestion_is_gone(world: dict[str, Any]) -> None:
    client, admin = world["client"], world["admin"]
    seniority = by_field(world)["seniority"]
    url = f"{API}/suggestions/{seniority['id']}/reject"
    assert_error(client.post(url), 401)
    assert_error(client.post(url, headers=world["reader"]), 403)
    assert_error(client.post(url, headers=world["stranger"]), 404)
    assert_error(client.post(f"{API}/suggestions/{UUID(int=7)}/reject", headers=admin), 404)
    decided = assert_success(client.post(url, headers=admin))
    assert decided["suggestion"]["status"] == "rejected" and decided["record"] is None
    assert "seniority" not in by_field(world)
    assert_error(client.post(url, headers=admin), 409, "SUGGESTION_DECIDED")


def test_the_routes_declare_their_errors_for_the_api_docs(app: FastAPI) -> None:
    routes = {
        (r.path, m): r for r in app.routes if getattr(r, "path", "").startswith(f"{API}/suggestions") for m in r.methods
    }
    assert {(f"{API}/suggestions", "GET"), (f"{API}/suggestions/{{suggestion_id}}/accept", "POST")} <= set(routes)
    assert 409 in routes[(f"{API}/suggestions/{{suggestion_id}}/accept", "POST")].responses
